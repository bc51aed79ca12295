"""Officials' acts applied by escalation: the pure planning, then each act's effect on real JetStream and
PostgreSQL (escalation running, `OfficialActed` published as the archive's outbox would)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from services.escalation.acts import CONTESTED_ZH, agreed, plan_told, plan_transfer, raise_to
from services.escalation.app import Escalation, running
from services.escalation.repository_acts import CaseNow
from services.intake.reports import follow_up_event, reported_event
from services.notify.templates import render, render_short
from shared.config import ROOT, Settings
from shared.contracts import (
    EscalationDecided,
    IncidentReport,
    Level,
    NoticeFacts,
    NotificationDelivered,
    NotificationRequested,
    Reason,
    RecipientRole,
)
from shared.contracts.acts import Act, OfficialActed
from shared.contracts.base import derive_id, utcnow
from shared.contracts.follow_up import FollowUp
from shared.contracts.help import HelpMessageAdded, HelpRequested, HelpResolved, Requester
from shared.contracts.officials import ChangeResolved
from shared.directory import load_directory
from shared.subjects import CHANGE_RESOLVED, ESCALATION, ESCALATION_DECIDED, NOTIFICATION_REQUESTED, NOTIFY
from tests.helpers import default_policy, eventually, exactly, publish, report, stream_messages

POLICY = default_policy()
DIRECTORY = load_directory(ROOT / "deploy" / "directory.toml")
MINOR = {"injury": "none", "violence": False, "weapon": False, "group": False,
         "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}
CASE_ID = uuid.UUID(int=7)
FACTS = NoticeFacts(case_ref="AB-00000007", school_id="demo-school", school_name="乐昌市示范中学", level=Level.minor,
                    reasons_zh=["情节轻微"], occurred_at=utcnow())
MINOR_CASE = CaseNow(Level.minor, (), (Reason(code="no_aggravating_indicator", zh="情节轻微", en="minor"),),
                     POLICY.version, False, FACTS,
                     {("notify_victim_family", None), ("notify_school", None), ("counselling", "S-1042")},
                     ["S-1042"])


def acted(act: Act, case_id: uuid.UUID = CASE_ID, official: str = "bureau-wang", **fields: Any) -> OfficialActed:
    """A fresh event each time (another click, or a replay under a new id): escalation must still count once."""
    role = "police" if act.by_police else "bureau"
    return OfficialActed(event_id=uuid.uuid4(), incident_id=case_id, school_id="demo-school", act=act,
                         official=official, official_role=role, jurisdiction="lechang", reason="核查后决定。", **fields)


# --- the rules, without I/O ----------------------------------------------------------------------------------

@pytest.mark.pure
def test_a_raise_adds_only_what_the_higher_level_requires_and_never_lowers() -> None:
    raised = raise_to(acted(Act.raise_level, level=Level.severe), MINOR_CASE, POLICY)
    assert raised is not None and raised.level is Level.severe
    added = {a.action_id for a in raised.actions}
    assert {"report_to_bureau", "contact_police", "disciplinary_sanction", "quality_evaluation_note",
            "special_school_assessment"} <= added
    assert not added & {"notify_victim_family", "notify_school", "counselling"}  # already owed
    assert raised.reasons[-1].code == "raised_by_official" and raised.reasons[0].code == "no_aggravating_indicator"
    severe = replace(MINOR_CASE, level=Level.severe)
    assert raise_to(acted(Act.raise_level, level=Level.serious), severe, POLICY) is None
    assert raise_to(acted(Act.raise_level, level=Level.severe), severe, POLICY) is None


@pytest.mark.pure
def test_a_referral_tells_the_police_once_with_their_duty() -> None:
    act = acted(Act.refer_to_police)
    planned = plan_told(act, MINOR_CASE, RecipientRole.police, "referred_to_police", "移送", POLICY, DIRECTORY)
    [duty], [notice] = planned.obligations, planned.events
    assert isinstance(notice, NotificationRequested) and notice.recipient.role is RecipientRole.police
    assert (duty.action_id, duty.role, duty.notification_id, duty.ack_required) == (
        "contact_police", "police", notice.notification_id, True)
    # the policy's shortest deadline for a level that does not require the police at all (minor)
    assert duty.due_at == act.occurred_at + timedelta(minutes=15)
    again = plan_told(acted(Act.refer_to_police, official="bureau-li"), MINOR_CASE, RecipientRole.police,
                      "referred_to_police", "移送", POLICY, DIRECTORY)
    assert again.events[0].event_id == notice.event_id  # another official's referral is the same notice
    owed = replace(MINOR_CASE, required={("contact_police", None)})
    assert plan_told(act, owed, RecipientRole.police, "referred_to_police", "移送", POLICY, DIRECTORY).events == []


@pytest.mark.pure
def test_four_eyes_need_two_different_officials() -> None:
    assert agreed(["wang"], 2) is None
    assert agreed(["wang", "wang"], 2) is None
    assert agreed(["wang", "li"], 2) == ["wang", "li"]
    assert agreed(["wang", "li"], 3) is None


@pytest.mark.pure
def test_a_transfer_tells_the_procuratorate_only_where_there_is_one() -> None:
    [told] = plan_transfer(acted(Act.police_transferred), FACTS, DIRECTORY).events
    assert isinstance(told, NotificationRequested) and told.recipient.role is RecipientRole.procuratorate
    assert told.recipient.entry == "procuratorate"
    without = DIRECTORY.model_copy(update={"officials": DIRECTORY.officials.model_copy(
        update={"procuratorate": None})})
    assert plan_transfer(acted(Act.police_transferred), FACTS, without).events == []


@pytest.mark.pure
def test_act_notices_render_in_chinese_without_a_name_or_the_officials_words() -> None:
    purposes = ["level_raised_by_official", "referred_to_police", "public_attention_flagged", "follow_up_ordered",
                "case_transferred", "help_resolution_contested"]
    for purpose in purposes:
        for role in (RecipientRole.school, RecipientRole.police, RecipientRole.procuratorate):
            req = NotificationRequested(
                event_id=uuid.uuid4(), incident_id=CASE_ID, notification_id=uuid.uuid4(), purpose=purpose,
                recipient=DIRECTORY.recipient(role.value, "demo-school", role),  # type: ignore[arg-type]
                facts=FACTS.model_copy(update={"update_zh": "教育局决定移送公安机关", "due_at": utcnow()}))
            text = render(req)
            assert FACTS.case_ref in text.subject and "教育局决定移送公安机关" in text.body, purpose
            assert "核查后决定" not in text.body  # an official's own words stay in the sealed record
            short = render_short(req, None)
            assert short.params["kind"] != "通知" and FACTS.case_ref in short.text


# --- the effects, on real JetStream and PostgreSQL ---------------------------------------------------------------

@pytest.fixture
async def esc(settings: Settings) -> AsyncIterator[Escalation]:
    async with running(settings.model_copy(update={"watchdog_interval_s": 3600.0})) as e:
        yield e


async def _minor_case(esc: Escalation, settings: Settings, key: str) -> uuid.UUID:
    event = reported_event(IncidentReport.model_validate(report(**MINOR)), key)
    await publish(settings.nats_url, event)
    await eventually(lambda: esc.pool.fetchval("SELECT 1 FROM decisions WHERE incident_id = $1", event.incident_id))
    return event.incident_id


async def _handled(esc: Escalation, *events: OfficialActed) -> None:
    """Publish and wait until escalation has taken each in (its inbox), whatever it did with it."""
    for event in events:
        await publish_act(esc, event)
        await eventually(lambda e=event: esc.pool.fetchval("SELECT 1 FROM inbox WHERE message_id = $1",
                                                           str(e.event_id)))


async def publish_act(esc: Escalation, event: OfficialActed) -> None:
    await publish(esc.infra.settings.nats_url, event)


async def _duties(esc: Escalation, case_id: uuid.UUID, action_id: str) -> list[dict[str, Any]]:
    rows = await esc.pool.fetch("SELECT * FROM obligations WHERE incident_id = $1 AND action_id = $2 ORDER BY due_at",
                                case_id, action_id)
    return [dict(r) for r in rows]


async def _notices(settings: Settings, purpose: str) -> list[NotificationRequested]:
    return [n for m in await stream_messages(settings.nats_url, NOTIFY.name)
            if m.subject.startswith(NOTIFICATION_REQUESTED)
            and (n := NotificationRequested.model_validate_json(m.data)).purpose == purpose]


async def _on_escalation(settings: Settings, subject: str) -> list[bytes]:
    return [m.data for m in await stream_messages(settings.nats_url, ESCALATION.name) if m.subject == subject]


async def test_raise_level_adds_the_new_duties_and_notices_and_a_lower_one_is_only_recorded(
        esc: Escalation, settings: Settings) -> None:
    case_id = await _minor_case(esc, settings, "acts-raise")
    await _handled(esc, acted(Act.raise_level, case_id, level=Level.severe))
    decided = [d for d in (EscalationDecided.model_validate_json(b)
                           for b in await _on_escalation(settings, ESCALATION_DECIDED)) if d.level is Level.severe]
    assert len(decided) == 1 and decided[0].reasons[-1].code == "raised_by_official"
    assert await esc.pool.fetchval("SELECT level FROM decisions WHERE incident_id = $1", case_id) == "severe"
    for action in ("report_to_bureau", "contact_police", "disciplinary_sanction", "special_school_assessment"):
        assert len(await _duties(esc, case_id, action)) == 1, action
    assert len(await _duties(esc, case_id, "counselling")) == 1  # owed already: not again
    told = await eventually(lambda: exactly(_notices(settings, "level_raised_by_official"), 3))
    assert {n.recipient.role for n in told} == {RecipientRole.bureau, RecipientRole.police, RecipientRole.school}
    assert next(n for n in told if n.recipient.role is RecipientRole.police).facts.ack_required

    await _handled(esc, acted(Act.raise_level, case_id, official="bureau-li", level=Level.serious))
    assert await esc.pool.fetchval("SELECT level FROM decisions WHERE incident_id = $1", case_id) == "severe"
    assert len(await _on_escalation(settings, ESCALATION_DECIDED)) == 2  # the report's and the raise


async def test_referral_public_attention_and_an_ordered_follow_up(esc: Escalation, settings: Settings) -> None:
    case_id = await _minor_case(esc, settings, "acts-refer")
    due = utcnow() + timedelta(days=2)
    await _handled(esc, acted(Act.refer_to_police, case_id), acted(Act.refer_to_police, case_id, "bureau-li"),
                   acted(Act.flag_public_attention, case_id), acted(Act.order_follow_up, case_id, due_at=due))
    [police] = await _duties(esc, case_id, "contact_police")
    assert (police["kind"], police["role"], police["ack_required"], police["state"]) == (
        "notice", "police", True, "pending")
    [to_police] = await eventually(lambda: exactly(_notices(settings, "referred_to_police"), 1))
    assert to_police.notification_id == police["notification_id"]

    [office] = await _duties(esc, case_id, "report_to_stability_office")
    assert office["role"] == "stability_office" and office["ack_required"]
    [to_office] = await eventually(lambda: exactly(_notices(settings, "public_attention_flagged"), 1))
    assert to_office.recipient.role is RecipientRole.stability_office
    row = await esc.pool.fetchrow("SELECT flags, public_attention_wide FROM decisions WHERE incident_id = $1", case_id)
    assert "wide_public_attention" in row["flags"] and row["public_attention_wide"]

    ordered = [d for d in await _duties(esc, case_id, "send_follow_up") if d["due_at"] == due]
    assert len(ordered) == 1 and ordered[0]["role"] == "school"
    [to_school] = await eventually(lambda: exactly(_notices(settings, "follow_up_ordered"), 1))
    assert to_school.recipient.role is RecipientRole.school and to_school.facts.due_at == due

    # the police record their receipt: their notice's duty is acknowledged by the officer
    await _handled(esc, acted(Act.police_received, case_id, "police-zhao"))
    [received] = await _duties(esc, case_id, "contact_police")
    assert (received["state"], received["settled_by"], received["how"]) == (
        "acknowledged", "police-zhao", "police_received")
    # and a transfer tells the procuratorate of the directory, once
    await _handled(esc, acted(Act.police_transferred, case_id, "police-zhao"),
                   acted(Act.police_transferred, case_id, "police-qian"))
    [transferred] = await eventually(lambda: exactly(_notices(settings, "case_transferred"), 1))
    assert transferred.recipient.role is RecipientRole.procuratorate
    assert transferred.facts.child_name is None


async def test_a_waiver_needs_two_different_officials(esc: Escalation, settings: Settings) -> None:
    case_id = await _minor_case(esc, settings, "acts-waive")
    [counselling] = await _duties(esc, case_id, "counselling")
    waive = {"obligation_id": counselling["obligation_id"]}
    await _handled(esc, acted(Act.waive_duty, case_id, **waive))
    assert (await _duties(esc, case_id, "counselling"))[0]["state"] == "pending"  # one official: nothing
    await _handled(esc, acted(Act.waive_duty, case_id, **waive))
    assert (await _duties(esc, case_id, "counselling"))[0]["state"] == "pending"  # the same one twice: nothing
    await _handled(esc, acted(Act.waive_duty, case_id, "bureau-li", **waive))
    [waived] = await _duties(esc, case_id, "counselling")
    assert (waived["state"], waived["settled_by"], waived["how"]) == ("waived", "bureau-wang,bureau-li", "waived")


async def test_closure_is_refused_with_open_duties_then_accepted(esc: Escalation, settings: Settings) -> None:
    case_id = await _minor_case(esc, settings, "acts-close")
    await _handled(esc, acted(Act.close_case, case_id))
    assert await _on_escalation(settings, CHANGE_RESOLVED) == []  # one official is not enough
    await _handled(esc, acted(Act.close_case, case_id, "bureau-li"))
    [refused] = [ChangeResolved.model_validate_json(b) for b in await _on_escalation(settings, CHANGE_RESOLVED)]
    assert refused.outcome == "refused" and {"counselling", "notify_school"} <= set(refused.open_actions)
    told = await eventually(lambda: exactly(_notices(settings, "change_resolved"), 2))
    assert {n.recipient.role for n in told} == {RecipientRole.school, RecipientRole.bureau}
    assert all("心理辅导" in n.facts.reasons_zh[0] for n in told)

    # every duty discharged: the notices delivered, counselling and the warning talk reported in a follow-up
    for row in await esc.pool.fetch("SELECT notification_id, role FROM obligations WHERE incident_id = $1"
                                    " AND kind = 'notice'", case_id):
        await publish(settings.nats_url, NotificationDelivered(
            event_id=derive_id("delivered", row["notification_id"]), incident_id=case_id,
            notification_id=row["notification_id"], role=row["role"], channel="email", attempts=1))
    done = FollowUp.model_validate({"counselling": [{"student_ref": "S-1042", "given_at": utcnow().isoformat(),
                                                     "by": "心理健康教师"}], "measures_taken": ["批评教育和警示谈话"]})
    await publish(settings.nats_url, follow_up_event(case_id, "demo-school", derive_id("fu", case_id), 1, done))
    await eventually(lambda: esc.pool.fetchval(
        "SELECT count(*) = 0 FROM obligations WHERE incident_id = $1 AND action_id <> 'send_follow_up'"
        " AND state NOT IN ('done', 'acknowledged')", case_id))

    await _handled(esc, acted(Act.close_case, case_id), acted(Act.close_case, case_id, "bureau-li"))
    resolved = [ChangeResolved.model_validate_json(b) for b in await _on_escalation(settings, CHANGE_RESOLVED)]
    assert [r.outcome for r in resolved] == ["refused", "applied"]
    assert resolved[1].approvers == ["bureau-wang", "bureau-li"]
    assert await esc.pool.fetchval("SELECT closed_at IS NOT NULL FROM decisions WHERE incident_id = $1", case_id)
    [follow_up] = [d for d in await _duties(esc, case_id, "send_follow_up") if d["state"] != "done"]
    assert (follow_up["state"], follow_up["how"]) == ("not_applicable", "closed")
    # a closed case is steered no more: a raise is only recorded
    await _handled(esc, acted(Act.raise_level, case_id, level=Level.criminal))
    assert await esc.pool.fetchval("SELECT level FROM decisions WHERE incident_id = $1", case_id) == "minor"


async def test_a_contested_help_resolution_is_owed_again(esc: Escalation, settings: Settings) -> None:
    help_id = uuid.uuid4()
    await publish(settings.nats_url, HelpRequested(
        event_id=derive_id("hr", help_id), help_id=help_id, school_id="demo-school", case_code="HACTS000001",
        requester=Requester(kind="student"), message="有人抢我的钱", urgent=False))
    # the school answers and resolves it ("no bullying found"); either settles the answer duty
    await publish(settings.nats_url, HelpMessageAdded(event_id=derive_id("hm", help_id), help_id=help_id,
                                                      school_id="demo-school", seq=2, author="school", text="已核查"))
    await publish(settings.nats_url, HelpResolved(event_id=derive_id("hres", help_id), help_id=help_id,
                                                  school_id="demo-school", resolution="no_bullying",
                                                  reason="经核查系同学间借款纠纷。", by="班主任"))
    await eventually(lambda: esc.pool.fetchval(
        "SELECT 1 FROM obligations WHERE incident_id = $1 AND action_id = 'answer_help_request'"
        " AND state = 'done'", help_id))
    await _handled(esc, acted(Act.contest_help_resolution, help_id))
    [answer] = await _duties(esc, help_id, "answer_help_request")
    assert (answer["state"], answer["step"], answer["note"], answer["settled_by"]) == (
        "pending", 0, CONTESTED_ZH, None)
    assert timedelta(hours=23) < answer["due_at"] - utcnow() <= timedelta(hours=24)
    [told] = await eventually(lambda: exactly(_notices(settings, "help_resolution_contested"), 1))
    assert told.recipient.role is RecipientRole.school and told.facts.due_at == answer["due_at"]
    # a second official's contest while the answer is owed anyway changes nothing
    await _handled(esc, acted(Act.contest_help_resolution, help_id, "bureau-li"))
    assert len(await _notices(settings, "help_resolution_contested")) == 1
