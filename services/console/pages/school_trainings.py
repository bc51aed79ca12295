"""培训记录: a school records an anti-bullying training session held for its staff, and sees its own
sessions (the archive's /v1/trainings). The form's inputs are named by the API's fields; the API alone
validates, and its reasons come back next to the inputs with everything typed kept."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.campaigns import campaigns_in as campaign_files
from services.console.pages.school_help import new_idem
from services.console.web import ConsoleDeps, form_doc, page_doc
from shared.campaign_plan import Campaign

# the archive's vocabulary (services/archive/trainings.py AUDIENCE): roles, never names
AUDIENCE = ("校长", "副校长", "中层干部", "班主任", "教师", "心理辅导老师", "法治副校长", "安全员", "宿管员",
            "保安", "其他教职工")
FIELDS = ("phase", "held_on", "audience", "participants", "hours", "topic", "trainer_org")
PURPOSE = "查看本校培训记录"


def campaigns_in(directory: Path) -> list[Campaign]:
    """The campaign files the archive files records against (CAMPAIGNS_DIR), read once."""
    return list(campaign_files(directory).values())


def phase_choices(campaigns: list[Campaign]) -> list[tuple[str, str]]:
    """(value "campaign/phase", label) for every phase of every campaign."""
    return [(f"{c.id}/{p.id}", f"{c.title_zh} · {p.zh}") for c in campaigns for p in c.phases]


def current_phase(campaigns: list[Campaign], today: date) -> str:
    """The first phase not yet past its deadline (a phase due relative to the start counts as current)."""
    for c in campaigns:
        for p in c.phases:
            if p.due is None or p.due >= today:
                return f"{c.id}/{p.id}"
    return f"{campaigns[-1].id}/{campaigns[-1].phases[-1].id}" if campaigns else ""


def body_of(values: dict[str, str], audience: list[str]) -> dict[str, Any]:
    """The API's JSON from the form: numbers as typed when they are numbers (the API names what is wrong)."""
    body: dict[str, Any] = {"held_on": values.get("held_on") or None, "audience": audience,
                            "participants": _number(values.get("participants", "")),
                            "hours": _number(values.get("hours", "")), "topic": values.get("topic", "")}
    if values.get("trainer_org"):
        body["trainer_org"] = values["trainer_org"]
    return body


def _number(text: str) -> Any:
    try:
        return int(text) if text.isdigit() else float(text)
    except ValueError:
        return text or None


def form_errors(field_errors: dict[str, str]) -> dict[str, str]:
    """API field paths to the form's inputs (audience.3 → audience); the rest stays for the list on top."""
    out: dict[str, str] = {}
    for path, reason in field_errors.items():
        out.setdefault(path.split(".")[0] if path.startswith("audience.") else path, reason)
    return out


def router(deps: ConsoleDeps) -> APIRouter:
    r = APIRouter()
    campaigns = campaigns_in(deps.settings.campaigns_dir)
    choices = phase_choices(campaigns)
    phase_names = {f"{c.id}/{p.id}": p.zh for c in campaigns for p in c.phases}  # the list's short label

    async def show(request: Request, status: int = 200, errors: dict[str, str] | None = None,
                   values: dict[str, str] | None = None, audience: list[str] | None = None) -> Response:
        session = deps.require(request, "school")
        values = values or {"phase": current_phase(campaigns, deps.clock().date())}
        listed = await deps.backend.archive(session, "GET", "/v1/trainings", purpose=PURPOSE)
        return deps.render(request, "school_trainings.html", status, errors=errors or {}, values=values,
                           chosen=audience or [], audience_roles=AUDIENCE, phases=choices, phase_names=phase_names,
                           idem=values.get("idem") or new_idem(), found=listed.body if listed.ok else None,
                           fields=FIELDS, filed=request.query_params.get("filed") == "1")

    @r.get("/school/trainings", **page_doc())
    async def trainings(request: Request) -> Response:
        return await show(request)

    @r.post("/school/trainings", **form_doc())
    async def file(request: Request) -> Response:
        session = deps.require(request, "school")
        form = await deps.form(request)
        values = {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != "audience"}
        audience = [a for a in form.getlist("audience") if isinstance(a, str)]
        campaign, _, phase = values.get("phase", "").partition("/")
        if f"{campaign}/{phase}" not in dict(choices):
            return await show(request, 422, {"phase": "请选择专项整治阶段。"}, values, audience)
        idem = values.get("idem", "")
        answer = await deps.backend.archive(
            session, "POST", f"/v1/campaigns/{campaign}/phases/{phase}/trainings", json=body_of(values, audience),
            headers={"Idempotency-Key": idem} if len(idem) >= 8 else {})
        if answer.ok:
            return deps.redirect("/school/trainings?filed=1")
        if answer.status == 422:
            errors = form_errors(answer.field_errors())
            return await show(request, 422, errors or {"form": answer.message_zh()}, values, audience)
        # 403/404/409 (e.g. the campaign not started in this jurisdiction yet) or 503: said on top, a new key
        return await show(request, answer.status, {"form": answer.message_zh()}, {**values, "idem": new_idem()},
                          audience)

    return r
