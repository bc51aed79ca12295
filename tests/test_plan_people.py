"""The plan's people through the real bus, PostgreSQL and SMTP server: a suspected crime reaches the school's
legal vice-principal and safety officers, the procuratorate and the court by the default policy; a school the
directory lists without them gets a visible failure (no_contact), never silence."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from antibully.infra import SmtpSink
from services.escalation.app import running as escalation
from services.intake.reports import reported_event
from services.notify.app import running as notify
from shared.config import Settings
from shared.contracts import (
    EscalationDecided,
    IncidentReport,
    NotificationDelivered,
    NotificationFailed,
    RecipientRole,
)
from shared.subjects import ESCALATION, ESCALATION_DECIDED, NOTIFY
from tests.helpers import directory_with_more_schools, eventually, exactly, publish, report, stream_messages

CHILDREN = ["李小明", "王强", "赵磊"]
PEOPLE = {RecipientRole.legal_vice_principal: "legal-vp@demo-school.example.cn",
          RecipientRole.safety_officer: "safety@demo-school.example.cn",
          RecipientRole.procuratorate: "minors@procuratorate.example.cn",
          RecipientRole.court: "juvenile@court.example.cn"}


async def _decided(url: str, n: int) -> list[EscalationDecided] | None:
    async def read() -> list[EscalationDecided]:
        return [EscalationDecided.model_validate_json(m.data)
                for m in await stream_messages(url, ESCALATION.name) if m.subject == ESCALATION_DECIDED]
    return await exactly(read(), n)


async def _outcomes(url: str, n: int) -> dict[object, NotificationDelivered | NotificationFailed] | None:
    out: dict[object, NotificationDelivered | NotificationFailed] = {}
    for m in await stream_messages(url, NOTIFY.name):
        if m.subject == NotificationDelivered.subject:
            d = NotificationDelivered.model_validate_json(m.data)
            out[d.notification_id] = d
        elif m.subject == NotificationFailed.subject:
            f = NotificationFailed.model_validate_json(m.data)
            out[f.notification_id] = f
    return out if len(out) >= n else None


async def test_a_suspected_crime_reaches_the_plans_people_or_fails_visibly(
    settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"directory_file": directory_with_more_schools(tmp_path)})
    crime = reported_event(IncidentReport.model_validate(report(suspected_crime=True)), "people-crime-1")
    lacking = reported_event(IncidentReport.model_validate(report(suspected_crime=True, school_id="second-school")),
                             "people-crime-2")
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(escalation(settings))
        await stack.enter_async_context(notify(settings))
        await publish(settings.nats_url, crime)
        await publish(settings.nats_url, lacking)
        decided = {d.incident_id: d for d in await eventually(lambda: _decided(settings.nats_url, 2))}
        total = sum(len(d.recipients) for d in decided.values())
        outcomes = await eventually(lambda: _outcomes(settings.nats_url, total), timeout_s=40)

    at_demo = {r.role: r.notification_id for r in decided[crime.incident_id].recipients}
    assert set(PEOPLE) <= set(at_demo)
    for role, address in PEOPLE.items():
        assert isinstance(outcomes[at_demo[role]], NotificationDelivered), role
        [mail] = [m for m in smtp_sink.messages if m["Message-ID"] == f"<{at_demo[role]}@antibully.notify>"]
        body = mail.get_content()
        assert mail["To"] == address and "涉嫌违法犯罪" in mail["Subject"]
        assert not [c for c in CHILDREN if c in body + mail["Subject"]], role
    vp_mail = next(m for m in smtp_sink.messages if m["To"] == PEOPLE[RecipientRole.legal_vice_principal])
    assert "法治副校长" in vp_mail.get_content()

    # the second school has neither a legal vice-principal nor safety officers in the directory
    at_second = {r.role: r.notification_id for r in decided[lacking.incident_id].recipients}
    for role in (RecipientRole.legal_vice_principal, RecipientRole.safety_officer):
        failed = outcomes[at_second[role]]
        assert isinstance(failed, NotificationFailed) and failed.reason == "no_contact", role
    for role in (RecipientRole.procuratorate, RecipientRole.court):  # the jurisdiction's, so told all the same
        assert isinstance(outcomes[at_second[role]], NotificationDelivered), role
