"""Officials' acts on a case beyond approvals: the bureau steers a case, the police record their part.

Every act is recorded in the case's chain with the official and the reason. Escalation applies
those that change what is owed: a raised level, a referral to the police, public attention (the
stability office), an ordered follow-up, a waived duty or a closure (both: two different bureau
officials, like a lower level), the police's receipt (their notice is acknowledged), a transfer
to the procuratorate (told where the directory has one).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from shared.contracts.base import Event, IncidentEvent
from shared.contracts.escalation import Level
from shared.contracts.incident import LongText, ShortText
from shared.contracts.sealed import SealedSections
from shared.subjects import LOOKBACK_REQUESTED, OFFICIAL_ACTED


class Act(StrEnum):
    # the bureau
    raise_level = "raise_level"
    refer_to_police = "refer_to_police"
    flag_public_attention = "flag_public_attention"
    order_follow_up = "order_follow_up"
    add_note = "add_note"
    waive_duty = "waive_duty"  # needs two different bureau officials
    close_case = "close_case"  # needs two different bureau officials, and every duty settled
    contest_help_resolution = "contest_help_resolution"  # a school's "no bullying found" is not accepted
    # the police
    police_received = "police_received"
    police_case_number = "police_case_number"
    police_warning_given = "police_warning_given"  # 训诫
    police_transferred = "police_transferred"  # to the procuratorate
    police_outcome = "police_outcome"

    @property
    def by_police(self) -> bool:
        return self.value.startswith("police_")

    @property
    def four_eyes(self) -> bool:
        return self in (Act.waive_duty, Act.close_case)



@dataclass(frozen=True)
class ActRule:
    """Who may do an act on which case, with which fields: the archive enforces it, the console offers by it."""

    zh: str                        # the act, in Chinese (answers, notes, the console's buttons)
    needs: tuple[str, ...] = ()    # fields it must have; the other optional fields it must not have
    kinds: frozenset[str] = frozenset({"incident"})  # the kinds of case it applies to
    while_open: bool = True        # refused on a closed case (409)


ANY_KIND = frozenset({"incident", "hazard", "help", "lookback", "campaign"})

RULES: dict[Act, ActRule] = {
    Act.raise_level: ActRule("提升认定等级", ("level",)),
    Act.refer_to_police: ActRule("移送公安机关"),
    Act.flag_public_attention: ActRule("标注社会关注度高"),
    Act.order_follow_up: ActRule("责令学校限期续报", ("due_at",)),
    Act.add_note: ActRule("添加备注", kinds=ANY_KIND, while_open=False),
    Act.waive_duty: ActRule("免除规定事项", ("obligation_id",), kinds=ANY_KIND),
    Act.close_case: ActRule("结案"),
    Act.contest_help_resolution: ActRule("不认可学校对求救的处理结论", kinds=frozenset({"help"}), while_open=False),
    # the police record their part whatever the education side did: a court's outcome may come after closure
    Act.police_received: ActRule("公安机关已接收", while_open=False),
    Act.police_case_number: ActRule("登记公安案件编号", ("police_case_number",), while_open=False),
    Act.police_warning_given: ActRule("已予训诫", while_open=False),
    Act.police_transferred: ActRule("已移送检察机关", while_open=False),
    Act.police_outcome: ActRule("登记处理结果", ("outcome",), while_open=False),
}
assert set(RULES) == set(Act), "every act needs a rule"

class OfficialActed(IncidentEvent, SealedSections):
    """`incident_id` is the case acted on (an incident, or a help request for a contested resolution).
    The official's words (`reason`, `outcome`) are for the record: sealed for the archive from v2 on."""

    event_type: ClassVar[str] = "OfficialActed"
    subject: ClassVar[str] = OFFICIAL_ACTED
    sealed_fields: ClassVar[tuple[str, ...]] = ("reason", "outcome")

    school_id: str
    act: Act
    official: str = Field(description="The acting official's account id.")
    official_role: str = Field(description="bureau | police")
    jurisdiction: str
    reason: LongText | None = Field(default=None, description="Why, in the official's words; no child's name "
                                    "(None on the bus from v2: sealed in `personal`).")
    level: Level | None = Field(default=None, description="raise_level: the new level.")
    due_at: AwareDatetime | None = Field(default=None, description="order_follow_up: by when.")
    obligation_id: uuid.UUID | None = Field(default=None, description="waive_duty: the duty waived.")
    police_case_number: ShortText | None = None
    outcome: LongText | None = Field(default=None, description="police_outcome: the outcome, no child's name.")


class LookBackRequested(Event, SealedSections):
    """The bureau schedules a look-back review (回头看) of a school by hand, e.g. for incidents from before
    the system (imported from a list); escalation schedules it like one a first incident triggers."""

    event_type: ClassVar[str] = "LookBackRequested"
    subject: ClassVar[str] = LOOKBACK_REQUESTED
    sealed_fields: ClassVar[tuple[str, ...]] = ("reason",)

    lookback_id: uuid.UUID
    school_id: str
    requested_by: str
    reason: LongText | None = Field(default=None, description="Sealed for the archive from v2 on.")
    due_at: AwareDatetime | None = Field(default=None, description="None: the policy's review period from now.")

    @property
    def case_id(self) -> uuid.UUID:
        return self.lookback_id
