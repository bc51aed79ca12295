"""A follow-up with worse indicators raises the level: pure rules, then on real JetStream and PostgreSQL."""

from __future__ import annotations

import asyncpg
import pytest

from services.escalation.app import running
from services.escalation.raise_level import raise_on_follow_up
from services.intake.reports import follow_up_event, reported_event
from shared.config import Settings
from shared.contracts import EscalationDecided, IncidentReport, Indicators, Level, NotificationRequested
from shared.contracts.base import derive_id
from shared.contracts.follow_up import FollowUp
from shared.subjects import ESCALATION, ESCALATION_DECIDED, NOTIFICATION_REQUESTED, NOTIFY
from tests.helpers import decide_report, default_policy, eventually, exactly, publish, report, stream_messages

POLICY = default_policy()
SERIOUS = {"injury": "minor", "violence": False, "weapon": False, "group": False,
           "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}


def _existing(level_indicators: dict[str, object]) -> set[tuple[str, str | None]]:
    return {(a.action_id, a.student_ref) for a in decide_report(report(**level_indicators)).actions}


@pytest.mark.pure
def test_raising_adds_only_what_the_higher_level_requires() -> None:
    raised = raise_on_follow_up(Level.serious, Indicators(**{**SERIOUS, "violence": True}), POLICY, ["S-1042"],
                                _existing(SERIOUS))
    assert raised is not None and raised.level == Level.severe
    assert {a.action_id for a in raised.actions} == {"quality_evaluation_note", "special_school_assessment"}
    assert "raised_by_follow_up" in {r.code for r in raised.reasons}


@pytest.mark.pure
def test_wide_attention_later_adds_the_stability_office() -> None:
    raised = raise_on_follow_up(Level.serious, Indicators(**{**SERIOUS, "violence": True, "public_attention": "wide"}),
                                POLICY, ["S-1042"], _existing(SERIOUS))
    assert raised is not None
    assert "report_to_stability_office" in {a.action_id for a in raised.actions}


@pytest.mark.pure
def test_same_or_lower_level_changes_nothing() -> None:
    assert raise_on_follow_up(Level.serious, Indicators(**{**SERIOUS, "group": True}), POLICY, [],
                              _existing(SERIOUS)) is None
    assert raise_on_follow_up(Level.severe, Indicators(), POLICY, [], set()) is None


async def test_follow_up_raises_a_serious_incident_to_severe(settings: Settings) -> None:
    async with running(settings):
        event = reported_event(IncidentReport.model_validate(report(**SERIOUS)), "raise-1")
        await publish(settings.nats_url, event)

        async def decided(n: int) -> list[EscalationDecided] | None:
            stored = await stream_messages(settings.nats_url, ESCALATION.name)
            got = [EscalationDecided.model_validate_json(m.data) for m in stored if m.subject == ESCALATION_DECIDED]
            return got if len(got) == n else None

        [first] = await eventually(lambda: decided(1))
        assert first.level == Level.serious
        follow_up = FollowUp.model_validate({"facts_changed": "查明涉事学生实施了殴打。",
                                             "indicators": {**SERIOUS, "violence": True}})
        await publish(settings.nats_url, follow_up_event(event.incident_id, "demo-school",
                                                         derive_id("fu-raise", event.incident_id), 1, follow_up))
        _, second = await eventually(lambda: decided(2))
        assert second.level == Level.severe
        assert {a.action_id for a in second.actions} == {"quality_evaluation_note", "special_school_assessment"}

        async def raised_notices() -> list[NotificationRequested]:
            return [r for r in (NotificationRequested.model_validate_json(m.data)
                                for m in await stream_messages(settings.nats_url, NOTIFY.name)
                                if m.subject.startswith(NOTIFICATION_REQUESTED)) if r.purpose == "level_raised"]

        notices = await eventually(raised_notices)
        assert {n.recipient.role.value for n in notices} == {"school", "bureau"}  # the two with new tasks
        assert all(n.facts.level == Level.severe and n.facts.child_name is None for n in notices)
        about_the_incident = [r for r in (NotificationRequested.model_validate_json(m.data)
                                          for m in await stream_messages(settings.nats_url, NOTIFY.name)
                                          if m.subject.startswith(NOTIFICATION_REQUESTED))
                              if r.purpose != "lookback_due"]
        assert len(about_the_incident) == len(first.recipients) + len(notices)  # nobody told twice


@pytest.mark.pure
def test_lowering_and_closure_are_only_proposals() -> None:
    from services.escalation.raise_level import proposed_changes

    assert proposed_changes(Level.severe, Indicators(), True, POLICY) == [("lower", Level.minor), ("closure", None)]
    assert proposed_changes(Level.minor, Indicators(violence=True), False, POLICY) == []
    assert proposed_changes(Level.severe, None, False, POLICY) == []


async def test_a_lower_level_or_closure_waits_for_approval(settings: Settings) -> None:
    from shared.contracts import ChangeProposed
    from shared.subjects import CHANGE_PROPOSED

    async with running(settings) as esc:
        event = reported_event(IncidentReport.model_validate(report()), "lower-1")  # severe
        await publish(settings.nats_url, event)
        await eventually(lambda: esc.pool.fetchval("SELECT level FROM decisions WHERE incident_id = $1",
                                                   event.incident_id))
        follow_up = FollowUp.model_validate({"indicators": SERIOUS, "propose_closure": True, "outcome": "已和解"})
        await publish(settings.nats_url, follow_up_event(event.incident_id, "demo-school",
                                                         derive_id("fu-lower", event.incident_id), 1, follow_up))

        async def proposals() -> list[ChangeProposed]:
            return [ChangeProposed.model_validate_json(m.data)
                    for m in await stream_messages(settings.nats_url, ESCALATION.name) if m.subject == CHANGE_PROPOSED]

        got = await eventually(lambda: exactly(proposals(), 2))
        assert [(p.change, p.proposed_level) for p in got] == [("lower", Level.serious), ("closure", None)]
        assert all(p.level_in_force == Level.severe for p in got)
        assert {"contact_police", "counselling"} <= set(got[1].open_actions)  # closure is blocked by these
        in_force = await esc.pool.fetchval("SELECT level FROM decisions WHERE incident_id = $1", event.incident_id)
        assert in_force == "severe"  # the higher level stands until approved


async def test_a_school_with_an_incident_gets_one_look_back_review(settings: Settings) -> None:
    from shared.contracts import LookBackScheduled
    from shared.subjects import LOOKBACK_SCHEDULED

    async with running(settings) as esc:
        for key, school in (("lb-1", "demo-school"), ("lb-2", "demo-school"), ("lb-3", "other-school")):
            await publish(settings.nats_url, reported_event(IncidentReport.model_validate(report(school_id=school)),
                                                            key))
        await eventually(lambda: esc.pool.fetchval("SELECT count(*) = 3 FROM decisions"))

        async def scheduled() -> list[LookBackScheduled]:
            return [LookBackScheduled.model_validate_json(m.data)
                    for m in await stream_messages(settings.nats_url, ESCALATION.name)
                    if m.subject == LOOKBACK_SCHEDULED]

        got = await eventually(lambda: exactly(scheduled(), 2))
        assert sorted(s.school_id for s in got) == ["demo-school", "other-school"]  # once per school and window
        notices = [r for r in (NotificationRequested.model_validate_json(m.data)
                               for m in await stream_messages(settings.nats_url, NOTIFY.name)
                               if m.subject.startswith(NOTIFICATION_REQUESTED)) if r.purpose == "lookback_due"]
        assert {n.recipient.entry for n in notices} == {"bureau"} and len(notices) == 2
        assert await esc.pool.fetchval(
            "SELECT count(*) FROM obligations WHERE action_id = 'lookback_review' AND role = 'bureau'") == 2
        # the bureau reports one review done: that obligation, and only it, is met
        from shared.contracts.officials import LookBackCompleted

        done = got[0]
        await publish(settings.nats_url, LookBackCompleted(
            event_id=derive_id("lookback-done", done.lookback_id), lookback_id=done.lookback_id,
            school_id=done.school_id, by="bureau.wang", findings="已复查，整改到位。"))
        states = await eventually(lambda: _lookback_states(esc.pool))
        assert sorted(states) == ["done", "pending"]


async def _lookback_states(pool: asyncpg.Pool) -> list[str] | None:
    rows = await pool.fetch("SELECT state FROM obligations WHERE action_id = 'lookback_review'")
    states = [r["state"] for r in rows]
    return states if "done" in states else None
