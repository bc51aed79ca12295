"""Officials' acts: the bureau steers a case, the police record their part (one endpoint, one body)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.archive import official_acts
from services.archive.act_rules import OPTIONAL_FIELDS
from services.archive.deps import ERRORS, ArchiveDeps
from services.archive.official_acts import ActBody
from services.archive.routes.acts import Accepted
from shared.contracts.acts import RULES, Act
from shared.contracts.escalation import Level
from shared.contracts.text import FreeText
from shared.errors import ErrorBody
from shared.identity import Official


def _fields_by_act() -> dict[str, Any]:
    """The document's statement of act_rules.field_problems: each act's own fields present, the others absent."""
    cases = []
    for act, rule in RULES.items():
        then: dict[str, Any] = {"properties": {name: {"not": {"type": "null"}} if name in rule.needs
                                               else {"type": "null"} for name in OPTIONAL_FIELDS}}
        if rule.needs:
            then["required"] = list(rule.needs)
        cases.append({"if": {"properties": {"act": {"const": act.value}}, "required": ["act"]}, "then": then})
    return {"allOf": cases}


class ActRequest(BaseModel):
    """Every act has a reason; each act needs its own field (see the endpoint) and no other."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_fields_by_act())
    act: Act
    reason: FreeText = Field(min_length=1, max_length=5000, description="Why, in your words. No child's name, "
                             "please: the reason is kept sealed and shown only to roles that see personal data.")
    level: Level | None = Field(default=None, description="raise_level: the new level, higher than the one in force.")
    due_at: AwareDatetime | None = Field(default=None, description="order_follow_up: by when, in the future.")
    obligation_id: uuid.UUID | None = Field(default=None, description="waive_duty: the duty, as the record lists it.")
    police_case_number: FreeText | None = Field(default=None, min_length=1, max_length=100,
                                                description="police_case_number: the police's own case number.")
    outcome: FreeText | None = Field(default=None, min_length=1, max_length=5000,
                                     description="police_outcome: the outcome (sealed like a reason).")


EXAMPLES: dict[str, dict[str, Any]] = {
    name: {"summary": summary, "value": value} for name, summary, value in [
        ("raise_level", "教育局：提升认定等级",
         {"act": "raise_level", "level": "severe", "reason": "经核查，存在多次殴打情节，认定为情节严重。"}),
        ("refer_to_police", "教育局：移送公安机关", {"act": "refer_to_police", "reason": "涉嫌违法，请公安机关介入。"}),
        ("flag_public_attention", "教育局：标注社会关注度高",
         {"act": "flag_public_attention", "reason": "相关视频已在网络传播。"}),
        ("order_follow_up", "教育局：责令限期续报",
         {"act": "order_follow_up", "due_at": "2026-12-05T17:00:00+08:00", "reason": "请报告心理辅导落实情况。"}),
        ("add_note", "教育局：添加备注", {"act": "add_note", "reason": "已电话督促学校校长。"}),
        ("waive_duty", "教育局：免除规定事项（须两名工作人员）",
         {"act": "waive_duty", "obligation_id": "00000000-0000-0000-0000-000000000000",
          "reason": "该生已转学，由转入学校开展心理辅导。"}),
        ("close_case", "教育局：结案（须两名工作人员，且规定事项均已办结）",
         {"act": "close_case", "reason": "各项处置措施均已落实。"}),
        ("contest_help_resolution", "教育局：不认可学校对求救的处理结论",
         {"act": "contest_help_resolution", "reason": "求救内容描述了欺凌行为，请重新核查。"}),
        ("police_received", "公安：已接收", {"act": "police_received", "reason": "已接收，指定民警跟进。"}),
        ("police_case_number", "公安：登记案件编号",
         {"act": "police_case_number", "police_case_number": "乐公（治）受案字〔2026〕1234号", "reason": "已受案。"}),
        ("police_warning_given", "公安：已予训诫", {"act": "police_warning_given", "reason": "已对涉事学生予以训诫。"}),
        ("police_transferred", "公安：移送检察机关", {"act": "police_transferred", "reason": "已移送审查起诉。"}),
        ("police_outcome", "公安：登记处理结果",
         {"act": "police_outcome", "outcome": "依法作出处理决定。", "reason": "办结。"}),
    ]
}

ACT_ERRORS = {**ERRORS,
              403: {"model": ErrorBody, "description": "Not your role's act (schools and the stability office act "
                    "on none)."},
              404: {"model": ErrorBody, "description": "Unknown case or duty, or outside your authority."},
              409: {"model": ErrorBody, "description": "Not for this kind of case, or not in its state (closed, "
                    "level not higher, duty settled, no resolution to contest)."}}

_NOTE_ZH = {
    Act.waive_duty: "已记录您的意见；需两名不同的教育局工作人员同意后免除该事项。",
    Act.close_case: "已记录您的意见；需两名不同的教育局工作人员同意，且规定事项均已办结后结案。",
}


def router(deps: ArchiveDeps) -> APIRouter:
    r = APIRouter(tags=["acts"])
    Actor = Annotated[Official, Depends(deps.official)]  # noqa: N806 - type alias

    @r.post("/v1/cases/{case_id}/acts", status_code=202, response_model=Accepted, responses=ACT_ERRORS,
            summary="Act on a case: the bureau steers it, the police record their part")
    async def act(case_id: uuid.UUID, official: Actor,
                  body: Annotated[ActRequest, Body(openapi_examples=EXAMPLES)]) -> Accepted:
        """Each act is recorded in the case's chain with the official and the reason; escalation applies it.

        | act | who | needs | cases | effect |
        |---|---|---|---|---|
        | `raise_level` | bureau | `level` | incident | the new level's duties and notices |
        | `refer_to_police` | bureau | | incident | the police are told (and owe a receipt); the case is referred |
        | `flag_public_attention` | bureau | | incident | the stability office is told (and sees the case) |
        | `order_follow_up` | bureau | `due_at` | incident | the school owes a follow-up by then |
        | `add_note` | bureau | | any | recorded |
        | `waive_duty` | bureau ×2 | `obligation_id` | any | once two different officials asked: waived |
        | `close_case` | bureau ×2 | | incident | once two different officials asked: closed if every duty is settled |
        | `contest_help_resolution` | bureau | | help | the school must answer the help request again |
        | `police_received` | police | | referred incident | the police notice is acknowledged |
        | `police_case_number` | police | `police_case_number` | referred incident | recorded |
        | `police_warning_given` (训诫) | police | | referred incident | recorded |
        | `police_transferred` | police | | referred incident | the procuratorate is told (if in the directory) |
        | `police_outcome` | police | `outcome` | referred incident | recorded |

        Acting twice the same way counts once (the same `event_id`). On a closed case only notes, contests
        and the police's acts are accepted."""
        event = await official_acts.act(deps.pool, official, case_id, ActBody(**body.model_dump()), deps.clock())
        deps.kick()
        return Accepted(event_id=event.event_id, note_zh=_NOTE_ZH.get(body.act, "已记录。"))

    return r
