"""Lowering or closing a case needs two different bureau officials: the rule, then on real JetStream and PostgreSQL."""

from __future__ import annotations

import pytest

from services.escalation.app import running
from services.escalation.approvals import Proposal, resolve
from services.intake.reports import follow_up_event, reported_event
from shared.config import Settings
from shared.contracts import ChangeProposed, IncidentReport, Level, NotificationRequested
from shared.contracts.base import derive_id
from shared.contracts.follow_up import FollowUp
from shared.contracts.officials import ChangeApproved, ChangeResolved
from shared.subjects import CHANGE_PROPOSED, CHANGE_RESOLVED, ESCALATION, NOTIFICATION_REQUESTED, NOTIFY
from tests.helpers import eventually, exactly, publish, report, stream_messages

SERIOUS = {"injury": "minor", "violence": False, "weapon": False, "group": False,
           "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}
LOWER = Proposal("lower", Level.severe, Level.serious)
CLOSE = Proposal("closure", Level.severe, None)


@pytest.mark.pure
def test_one_official_is_not_enough_however_often_they_approve() -> None:
    assert resolve(LOWER, Level.severe, ["wang"], [], 2) is None
    assert resolve(LOWER, Level.severe, ["wang", "wang"], [], 2) is None
    assert resolve(LOWER, Level.severe, ["wang", "li"], [], 3) is None


@pytest.mark.pure
def test_two_different_officials_lower_the_level() -> None:
    done = resolve(LOWER, Level.severe, ["wang", "li"], ["contact_police"], 2)
    assert done is not None and (done.outcome, done.level_after) == ("applied", Level.serious)


@pytest.mark.pure
def test_closure_is_refused_while_required_actions_are_open() -> None:
    refused = resolve(CLOSE, Level.severe, ["wang", "li"], ["counselling"], 2)
    assert refused is not None and (refused.outcome, refused.open_actions) == ("refused", ("counselling",))
    closed = resolve(CLOSE, Level.severe, ["wang", "li"], [], 2)
    assert closed is not None and (closed.outcome, closed.level_after) == ("applied", Level.severe)


@pytest.mark.pure
def test_an_old_lowering_does_not_undo_a_later_raise() -> None:
    refused = resolve(LOWER, Level.criminal, ["wang", "li"], [], 2)
    assert refused is not None and (refused.outcome, refused.level_after) == ("refused", Level.criminal)


def _approval(proposed: ChangeProposed, approver: str, click: int = 1) -> ChangeApproved:
    return ChangeApproved(event_id=derive_id("approval", proposed.follow_up_id, proposed.change, approver, click),
                          incident_id=proposed.incident_id, follow_up_id=proposed.follow_up_id,
                          change=proposed.change,  # type: ignore[arg-type]
                          approver=approver, jurisdiction="lechang")


async def test_approvals_lower_the_level_and_refuse_a_premature_closure(settings: Settings) -> None:
    async with running(settings) as esc:
        event = reported_event(IncidentReport.model_validate(report()), "approve-1")  # severe
        await publish(settings.nats_url, event)
        await eventually(lambda: esc.pool.fetchval("SELECT level FROM decisions WHERE incident_id = $1",
                                                   event.incident_id))
        follow_up = FollowUp.model_validate({"indicators": SERIOUS, "propose_closure": True, "outcome": "已和解"})
        await publish(settings.nats_url, follow_up_event(event.incident_id, "demo-school",
                                                         derive_id("fu-approve", event.incident_id), 1, follow_up))

        async def on_stream(subject: str) -> list[bytes]:
            return [m.data for m in await stream_messages(settings.nats_url, ESCALATION.name) if m.subject == subject]

        lower, closure = [ChangeProposed.model_validate_json(d)
                          for d in await eventually(lambda: exactly(on_stream(CHANGE_PROPOSED), 2))]
        for approval in (_approval(lower, "bureau.wang"), _approval(lower, "bureau.wang", click=2),
                         _approval(closure, "bureau.wang")):
            await publish(settings.nats_url, approval)
        # the same official twice: nothing applies; wait until escalation has seen all three
        await eventually(lambda: esc.pool.fetchval("SELECT count(*) = 2 FROM approvals") or None)
        assert await on_stream(CHANGE_RESOLVED) == []
        assert await esc.pool.fetchval("SELECT level FROM decisions WHERE incident_id = $1",
                                       event.incident_id) == "severe"

        await publish(settings.nats_url, _approval(lower, "bureau.li"))
        await publish(settings.nats_url, _approval(closure, "bureau.li"))
        resolved = {r.change: r for r in (ChangeResolved.model_validate_json(d)
                                          for d in await eventually(lambda: exactly(on_stream(CHANGE_RESOLVED), 2)))}
        assert resolved["lower"].outcome == "applied"
        assert (resolved["lower"].level_before, resolved["lower"].level_after) == (Level.severe, Level.serious)
        assert resolved["lower"].approvers == ["bureau.wang", "bureau.li"]
        assert resolved["closure"].outcome == "refused"
        assert "counselling" in resolved["closure"].open_actions
        assert await esc.pool.fetchval("SELECT level FROM decisions WHERE incident_id = $1",
                                       event.incident_id) == "serious"
        assert await esc.pool.fetchval("SELECT closed_at FROM decisions WHERE incident_id = $1",
                                       event.incident_id) is None
        told = [NotificationRequested.model_validate_json(m.data)
                for m in await stream_messages(settings.nats_url, NOTIFY.name)
                if m.subject.startswith(NOTIFICATION_REQUESTED) and b"change_resolved" in m.data]
        assert sorted((n.recipient.role.value, n.facts.reasons_zh[0][:4]) for n in told) == [
            ("bureau", "经教育局"), ("bureau", "结案申请"), ("school", "经教育局"), ("school", "结案申请")]
        assert "心理辅导" in next(n for n in told if "结案" in n.facts.reasons_zh[0]).facts.reasons_zh[0]
