"""Unanswered help requests and overdue hazard rectification reach the bureau; answered and finished ones do
not (real JetStream and PostgreSQL, the watchdog on a controllable clock)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.escalation.app import running
from services.notify.templates import render
from shared.config import Settings
from shared.contracts import DeadlineMissed, NotificationRequested
from shared.contracts.base import derive_id
from shared.contracts.help import Author, HelpMessageAdded, HelpRequested, HelpResolution, HelpResolved, Requester
from shared.subjects import DEADLINE_MISSED, ESCALATION, NOTIFICATION_REQUESTED, NOTIFY
from tests.helpers import eventually, exactly, publish, stream_messages

SECRET = "宿舍里有人天天勒索我"


def _help(urgent: bool) -> HelpRequested:
    help_id = uuid.uuid4()
    return HelpRequested(event_id=derive_id("hr", help_id), help_id=help_id, school_id="demo-school",
                         case_code="H" + help_id.hex[:10].upper(), requester=Requester(kind="student"),
                         message=SECRET, urgent=urgent)


async def _notices(url: str) -> list[NotificationRequested]:
    return [NotificationRequested.model_validate_json(m.data)
            for m in await stream_messages(url, NOTIFY.name) if m.subject.startswith(NOTIFICATION_REQUESTED)]


async def test_unanswered_help_request_goes_to_the_bureau(settings: Settings) -> None:
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0})
    async with running(quiet) as esc:
        unanswered, answered = _help(urgent=True), _help(urgent=True)
        for event in (unanswered, answered):
            await publish(quiet.nats_url, event)
        notices = await eventually(lambda: exactly(_notices(quiet.nats_url), 4))
        told = [n for n in notices if n.purpose == "help_requested"]
        assert len(told) == 2 and {n.recipient.entry for n in told} == {"school:demo-school"}
        # urgent: the bureau's duty room is told at once too (tests/test_help_urgent.py)
        assert {n.purpose for n in notices} - {"help_requested"} == {"help_urgent"}
        text = render(told[0])
        assert SECRET not in text.body and "紧急" in text.subject and "1" in text.body

        # a reply is only a message; the resolution with a reason settles the request
        await publish(quiet.nats_url, HelpMessageAdded(
            event_id=derive_id("reply", answered.help_id), help_id=answered.help_id, school_id="demo-school",
            seq=2, author=Author.school, text="老师已收到"))
        await publish(quiet.nats_url, HelpResolved(
            event_id=derive_id("resolved", answered.help_id), help_id=answered.help_id, school_id="demo-school",
            resolution=HelpResolution.no_bullying, reason="经核实为同学间玩笑，已当面调解。", by="班主任"))
        await eventually(lambda: esc.pool.fetchval(
            "SELECT state = 'done' AND how = 'resolved' FROM obligations WHERE incident_id = $1"
            " AND action_id = 'answer_help_request'", answered.help_id))

        # the duty room's 15-minute confirmations are unacknowledged: both fire first
        assert await esc.watchdog.tick(unanswered.occurred_at + timedelta(minutes=59)) == 2
        assert await esc.watchdog.tick(unanswered.occurred_at + timedelta(minutes=61)) == 1  # urgent: 1 h

        async def answer_missed() -> list[DeadlineMissed]:
            return [e for e in (DeadlineMissed.model_validate_json(m.data)
                                for m in await stream_messages(quiet.nats_url, ESCALATION.name)
                                if m.subject == DEADLINE_MISSED) if e.action_id == "answer_help_request"]

        [missed] = await eventually(answer_missed)
        assert (missed.incident_id, missed.action_id, missed.escalated_to) == (
            unanswered.help_id, "answer_help_request", "乐昌市教育局值班室")
        bureau = [n for n in await eventually(lambda: exactly(_notices(quiet.nats_url), 7))
                  if n.purpose == "deadline_missed" and n.recipient.entry == "bureau"]
        assert len(bureau) == 1 and bureau[0].incident_id == unanswered.help_id
        assert "紧急求救" in render(bureau[0]).body and SECRET not in render(bureau[0]).body


async def test_overdue_hazard_rectification_goes_to_the_bureau(settings: Settings) -> None:
    from datetime import datetime

    from services.escalation.hazard_watch import SHANGHAI
    from services.intake.examples import HAZARD_EXAMPLE_BODY
    from shared.contracts.hazard import HazardFinding, HazardProgress, HazardProgressed, HazardReported

    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0})
    finding = HazardFinding.model_validate(HAZARD_EXAMPLE_BODY)
    late, done = uuid.uuid4(), uuid.uuid4()
    async with running(quiet) as esc:
        for hazard_id in (late, done):
            await publish(quiet.nats_url, HazardReported(event_id=derive_id("hz", hazard_id), hazard_id=hazard_id,
                                                         school_id="demo-school", finding=finding))
        await publish(quiet.nats_url, HazardProgressed(
            event_id=derive_id("hp", done), hazard_id=done, school_id="demo-school", progress_id=uuid.uuid4(), seq=1,
            progress=HazardProgress.model_validate({"at": "2026-11-28T10:00:00+08:00", "step": "加装监控完成",
                                                    "completed": True})))
        await eventually(lambda: esc.pool.fetchval(
            "SELECT state = 'done' FROM obligations WHERE incident_id = $1", done))
        end_of_due_day = datetime.combine(finding.rectification.due_date, datetime.max.time(), SHANGHAI)
        assert await esc.watchdog.tick(end_of_due_day) == 0
        assert await esc.watchdog.tick(end_of_due_day + timedelta(minutes=1)) == 1
        [missed] = [DeadlineMissed.model_validate_json(m.data)
                    for m in await eventually(lambda: stream_messages(quiet.nats_url, ESCALATION.name))
                    if m.subject == DEADLINE_MISSED]
        assert (missed.incident_id, missed.action_id) == (late, "rectify_hazard")
        [notice] = await eventually(lambda: exactly(_notices(quiet.nats_url), 1))
        assert notice.recipient.entry == "bureau"
        assert "隐患整改" in render(notice).body
