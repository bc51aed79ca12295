"""Follow-ups change the persons; families are kept informed (real JetStream and PostgreSQL; notify's real
SMTP where a notice must arrive): a second victim found gets counselling and the family notice, a newly
found perpetrator is checked for repeats, a corrected guardian gets the notice that had failed, a raised
level, counselling, a sanction and the closure reach the families concerned."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import asyncpg
import pytest

from antibully.infra import SmtpSink
from services.escalation.app import running as escalation
from services.escalation.notices import case_ref
from services.intake.examples import FOLLOW_UP_PERSONS_EXAMPLE_BODY
from services.intake.reports import follow_up_event, reported_event
from services.notify.app import running as notify
from shared.config import Settings
from shared.contracts import EscalationDecided, IncidentReport, Level, NotificationRequested
from shared.contracts.base import Event, derive_id
from shared.contracts.duties import DutyUpdated
from shared.contracts.follow_up import FollowUp, FollowUpReported
from shared.contracts.officials import ChangeApproved
from shared.crypto import new_key_b64
from shared.subjects import DUTIES, ESCALATION, ESCALATION_DECIDED, NOTIFICATION_REQUESTED, NOTIFY
from tests.conftest import Intake
from tests.helpers import as_notify, eventually, publish, report, stream_messages

MINOR = {"injury": "none", "violence": False, "weapon": False, "group": False,
         "repeated_after_education": False, "suspected_crime": False, "public_attention": "none"}
SERIOUS = {**MINOR, "injury": "minor"}
NEW_VICTIM = FOLLOW_UP_PERSONS_EXAMPLE_BODY["students_added"][0]


def keyed(settings: Settings) -> Settings:
    """Families kept (ESCALATION_DATA_KEY); the watchdog out of the way."""
    return settings.model_copy(update={"escalation_data_key": new_key_b64(), "watchdog_interval_s": 3600.0})


async def requests(settings: Settings, purpose: str | None = None) -> list[NotificationRequested]:
    got = [as_notify(NotificationRequested.model_validate_json(m.data))  # a guardian's box opened, as notify does
           for m in await stream_messages(settings.nats_url, NOTIFY.name)
           if m.subject.startswith(NOTIFICATION_REQUESTED)]
    return [r for r in got if purpose is None or r.purpose == purpose]


async def handled(pool: asyncpg.Pool, event: Event) -> bool:
    """The event's transaction committed (its id claimed in escalation's inbox)."""
    return bool(await pool.fetchval("SELECT 1 FROM inbox WHERE message_id = $1", str(event.event_id)))


def follow_up(incident_id: uuid.UUID, body: dict[str, Any], name: str) -> FollowUpReported:
    return follow_up_event(incident_id, "demo-school", derive_id(name, incident_id), 1, FollowUp.model_validate(body))


async def test_a_follow_up_adding_a_second_victim_creates_its_counselling_and_family_notice(
    settings: Settings, intake: Intake,
) -> None:
    """The issue's "done when": through intake's API, a follow-up adds a victim."""
    s = keyed(settings)
    async with escalation(s) as esc:
        r = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("second-victim-0"))
        incident = uuid.UUID(r.json()["incident_id"])
        await eventually(lambda: esc.pool.fetchval("SELECT count(*) FROM obligations WHERE incident_id = $1",
                                                   incident))
        before = {(r["action_id"], r["student_ref"]) for r in await esc.pool.fetch(
            "SELECT action_id, student_ref FROM obligations WHERE incident_id = $1", incident)}
        url = f"/v1/incidents/{incident}/follow-ups"
        body = {"facts_changed": FOLLOW_UP_PERSONS_EXAMPLE_BODY["facts_changed"], "students_added": [NEW_VICTIM]}
        assert (await intake.client.post(url, json=body, headers=intake.headers("second-victim-1"))).status_code == 202

        async def new_duties() -> set[tuple[str, str | None, str]] | None:
            rows = await esc.pool.fetch("SELECT action_id, student_ref, kind FROM obligations WHERE incident_id = $1",
                                        incident)
            got = {(r["action_id"], r["student_ref"], r["kind"]) for r in rows
                   if (r["action_id"], r["student_ref"]) not in before and r["action_id"] != "send_follow_up"}
            return got if len(got) >= 2 else None

        assert await eventually(new_duties) == {("counselling", "S-1101", "task"),
                                                ("notify_victim_family", "S-1101", "notice")}
        [notice] = [n for n in await requests(s, "first_notice") if n.facts.child_name == "陈小华"]
        assert notice.recipient.role.value == "victim_guardian" and notice.recipient.display_name == "陈红（母亲）"
        assert {a.to for a in notice.recipient.routes()} == {"13800000004", "chen.parent@example.cn"}
        assert notice.facts.level == Level.severe and notice.facts.reasons_zh == []
        assert len(await requests(s, "first_notice")) == 7 + 1  # the report's seven, and the new family's one

        async def visible() -> list[DutyUpdated]:  # the new duties are in the record like any other
            return [d for d in (DutyUpdated.model_validate_json(m.data)
                                for m in await stream_messages(s.nats_url, DUTIES.name))
                    if d.duty.student_ref == "S-1101" and d.duty.action_id == "counselling"]

        assert (await eventually(visible))[0].duty.label_zh == "对受害学生开展心理辅导"
        # a ref the incident has (an incident from before intake kept refs: on the bus) is ignored by escalation
        again = follow_up(incident, {"students_added": [{**NEW_VICTIM, "ref": "S-1042", "name": "李小明"}]}, "dup")
        await publish(s.nats_url, again)
        await eventually(lambda: handled(esc.pool, again))
        assert await esc.pool.fetchval("SELECT count(*) FROM obligations WHERE incident_id = $1 AND student_ref ="
                                       " 'S-1042' AND action_id = 'counselling'", incident) == 1
        assert len(await requests(s, "first_notice")) == 8


async def test_a_newly_found_perpetrator_who_was_in_an_earlier_case_raises_the_level(settings: Settings) -> None:
    s = keyed(settings)
    async with escalation(s) as esc:
        earlier = reported_event(IncidentReport.model_validate(report(**MINOR)), "earlier-case")
        await publish(s.nats_url, earlier)
        await eventually(lambda: handled(esc.pool, earlier))
        body = report(**MINOR)
        for student in body["students"]:
            student["ref"] = student["ref"].replace("S-1", "S-3")
        later = reported_event(IncidentReport.model_validate(body), "later-case")
        await publish(s.nats_url, later)
        await eventually(lambda: handled(esc.pool, later))
        wang = next(st for st in report()["students"] if st["ref"] == "S-1077")  # the earlier case's perpetrator
        await publish(s.nats_url, follow_up(later.incident_id, {"students_added": [wang]}, "found"))

        async def raised() -> EscalationDecided | None:
            decided = [EscalationDecided.model_validate_json(m.data)
                       for m in await stream_messages(s.nats_url, ESCALATION.name) if m.subject == ESCALATION_DECIDED]
            return next((d for d in decided if d.incident_id == later.incident_id and d.level == Level.severe), None)

        decision = await eventually(raised)
        reasons = {r.code: r.zh for r in decision.reasons}
        assert case_ref(earlier) in reasons["earlier_cases"] and "raised_by_follow_up" in reasons
        mine = [n for n in await requests(s) if n.incident_id == later.incident_id and n.facts.child_name == "王强"]
        assert {n.purpose for n in mine} == {"first_notice", "family_update"}  # told of the case, then of the level
        assert await esc.pool.fetchval("SELECT level FROM decisions WHERE incident_id = $1", later.incident_id) \
            == "severe"


async def test_a_raised_level_counselling_and_a_sanction_reach_the_families_concerned(
    settings: Settings, caplog: pytest.LogCaptureFixture,
) -> None:
    s = keyed(settings)
    async with escalation(s) as esc:
        event = reported_event(IncidentReport.model_validate(report(**SERIOUS)), "raise-families")
        await publish(s.nats_url, event)
        await eventually(lambda: handled(esc.pool, event))
        assert not await requests(s, "family_update")
        await publish(s.nats_url, follow_up(event.incident_id, {
            "indicators": {**SERIOUS, "violence": True},
            "counselling": [{"student_ref": "S-1042", "given_at": "2026-11-29T09:00:00+08:00", "by": "心理健康教师"}],
            "sanctions": [{"student_ref": "S-1077", "measure": "警告处分", "decided_at": "2026-11-29T10:00:00+08:00"}],
        }, "raise-families"))

        async def updates() -> list[NotificationRequested] | None:
            got = await requests(s, "family_update")
            return got if len(got) >= 5 else None

        told = await eventually(updates)
        by_child: dict[str, list[str]] = {}
        for n in told:
            assert n.facts.update_zh and n.facts.reasons_zh == [] and n.facts.child_name
            by_child.setdefault(n.facts.child_name, []).append(n.facts.update_zh)
        assert sorted(by_child) == ["李小明", "王强", "赵磊"]
        assert all(any("情节严重" in t for t in texts) for texts in by_child.values())  # both families: the level
        assert [t for t in by_child["李小明"] if "心理辅导" in t]  # the victim's family: counselling
        assert [t for t in by_child["王强"] if "教育惩戒" in t]  # only the sanctioned child's family
        assert not [t for t in by_child["赵磊"] + by_child["李小明"] if "教育惩戒" in t]
        assert len(told) == 5
        duties = await esc.pool.fetch("SELECT student_ref, role FROM obligations WHERE action_id = 'family_update'")
        assert sorted(r["student_ref"] for r in duties) == ["S-1042", "S-1042", "S-1077", "S-1077", "S-1078"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="antibully.escalation"):
        async with escalation(settings.model_copy(update={"watchdog_interval_s": 3600.0})):
            pass
    assert "ESCALATION_DATA_KEY is not set" in caplog.text


async def test_a_corrected_guardian_gets_the_notice_that_had_failed(settings: Settings, smtp_sink: SmtpSink) -> None:
    s = keyed(settings)
    body = report()
    body["students"][0]["guardians"] = [{"name": "李建国", "relation": "父亲"}]  # no phone, no e-mail
    event = reported_event(IncidentReport.model_validate(body), "corrected-guardian")
    async with escalation(s) as esc, notify(s):
        await publish(s.nats_url, event)
        failed = "SELECT obligation_id, state FROM obligations WHERE student_ref = 'S-1042' AND kind = 'notice'"
        [old] = await eventually(lambda: _rows(esc.pool, failed + " AND state = 'failed'"))
        fix = follow_up(event.incident_id, {"guardians_corrected": [{"student_ref": "S-1042", "guardians": [
            {"name": "李建国", "relation": "父亲", "email": "li.new@example.cn"}]}]}, "corrected")
        await publish(s.nats_url, fix)

        async def mail() -> list[Any] | None:
            return [m for m in smtp_sink.messages if m["To"] == "li.new@example.cn"] or None

        [sent] = await eventually(mail)
        text = sent.get_content()
        # the report's names are sealed (escalation never held them): the corrected contact, given in clear by
        # the follow-up, is greeted by name and told of "your child", never a child's name
        assert "李建国（父亲）" in text and not [c for c in ("李小明", "王强", "赵磊") if c in text]
        assert "/ack/" in text and "给学校留言" in text
        rows = await eventually(lambda: _rows(esc.pool, failed + " AND state IN ('done', 'not_applicable')", 2))
        states = {r["obligation_id"]: r["state"] for r in rows}
        assert states[old["obligation_id"]] == "not_applicable" and "done" in states.values()
        how = await esc.pool.fetchrow("SELECT how, settled_by FROM obligations WHERE obligation_id = $1",
                                      old["obligation_id"])
        assert (how["how"], how["settled_by"]) == ("superseded", "school:demo-school")


async def test_the_closure_tells_both_families_and_their_contacts_are_forgotten(
    settings: Settings, smtp_sink: SmtpSink,
) -> None:
    s = keyed(settings)
    event = reported_event(IncidentReport.model_validate(report(**MINOR)), "closure-families")
    async with escalation(s) as esc, notify(s):
        await publish(s.nats_url, event)
        notices = "SELECT count(*) FROM obligations WHERE kind = 'notice' AND incident_id = $1 AND state <> 'done'"
        await eventually(lambda: _zero(esc.pool, notices, event.incident_id))
        closing = follow_up(event.incident_id, {
            "counselling": [{"student_ref": "S-1042", "given_at": "2026-11-29T09:00:00+08:00", "by": "心理健康教师"}],
            "measures_taken": ["已约谈双方家长并开展警示谈话"], "propose_closure": True}, "closure")
        await publish(s.nats_url, closing)
        await eventually(lambda: handled(esc.pool, closing))
        await eventually(lambda: _zero(esc.pool, notices, event.incident_id))  # the counselling update delivered
        for official in ("bureau-wang", "bureau-li"):
            await publish(s.nats_url, ChangeApproved(
                event_id=derive_id("approve", closing.follow_up_id, official), incident_id=event.incident_id,
                follow_up_id=closing.follow_up_id, change="closure", approver=official, jurisdiction="lechang"))

        async def closed_mails() -> set[str] | None:
            got = {m["To"] for m in smtp_sink.messages if "已结案" in m.get_content()}
            return got if len(got) == 3 else None

        assert await eventually(closed_mails) == {"li.parent@example.cn", "wang.parent@example.cn",
                                                  "zhao.parent@example.cn"}
        assert await esc.pool.fetchval("SELECT closed_at IS NOT NULL FROM decisions WHERE incident_id = $1",
                                       event.incident_id)
        kept = await esc.pool.fetchval("SELECT count(*) FROM case_students WHERE case_id = $1"
                                       " AND family_ct IS NOT NULL", event.incident_id)
        assert kept == 0
        counselled = [m["To"] for m in smtp_sink.messages if "心理辅导" in m.get_content() and "【案件进展告知】"
                      in m["Subject"]]
        assert counselled == ["li.parent@example.cn"]


async def _rows(pool: asyncpg.Pool, sql: str, n: int = 1) -> list[asyncpg.Record] | None:
    rows = await pool.fetch(sql)
    return rows if len(rows) == n else None


async def _zero(pool: asyncpg.Pool, sql: str, *args: object) -> bool:
    return await pool.fetchval(sql, *args) == 0  # type: ignore[no-any-return]
