"""A campaign's duties in escalation on real JetStream and PostgreSQL: a start creates every duty once, records
settle exactly the duties they fulfil (before or after the start), a missed campaign deadline goes up its
chain in Chinese and on to the duty room's digest, an official discharges the bureau's once-per-campaign duty,
and a school's own list (intake) shows its campaign duties but never the jurisdiction's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.archive.campaign_filing import record_event, started_event
from services.escalation.app import Escalation
from services.escalation.app import running as escalation
from services.escalation.campaign_duties import duty_obligation_id
from services.notify.templates import render
from shared.bus_seal import producer
from shared.campaign_plan import Campaign, parse_campaign
from shared.config import ROOT, Settings
from shared.contracts import DeadlineMissed, NotificationRequested
from shared.contracts.base import Event, derive_id, utcnow
from shared.contracts.campaign import (
    CampaignStarted,
    RecordFacts,
    RecordKind,
    campaign_case_id,
    campaign_level_case_id,
)
from shared.contracts.duties import DischargeHow, DutyDischarged, DutyUpdated
from shared.directory import load_directory
from shared.identity import Official, OfficialRole, StaffTitle
from shared.subjects import (
    DEADLINE_MISSED,
    DUTIES,
    DUTY_UPDATED,
    ESCALATION,
    NOTIFICATION_REQUESTED,
    NOTIFY,
    OFFICIALS,
)
from tests.conftest import Intake
from tests.helpers import directory_with_more_schools, eventually, exactly, publish, stream_messages

SHIPPED = parse_campaign((ROOT / "deploy" / "campaigns" / "2027-zhuanxiang.toml").read_text(encoding="utf-8"))
HEAD = Official(account_id="head-demo", display_name="校长", role=OfficialRole.school, jurisdiction="lechang",
                school_id="demo-school", title=StaffTitle.head)
BUREAU = Official(account_id="bureau-li", display_name="李科长", role=OfficialRole.bureau, jurisdiction="lechang")
LECHANG = ("demo-school", "second-school")  # far-school is renhua's


@pytest.fixture
async def esc(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[Settings, Escalation]]:
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0,
                                        "directory_file": directory_with_more_schools(tmp_path)})
    async with escalation(quiet) as running:
        yield quiet, running


def _start(settings: Settings, campaign: Campaign = SHIPPED, at: datetime | None = None) -> CampaignStarted:
    return started_event(campaign, load_directory(settings.directory_file), "lechang", BUREAU.account_id,
                         at or utcnow())


def _record(kind: RecordKind, phase: str, school: str, at: datetime, campaign: Campaign = SHIPPED) -> Event:
    by = BUREAU if kind is RecordKind.school_screening else HEAD.model_copy(update={"school_id": school})
    event = record_event(campaign, phase, school, kind, by, RecordFacts(nothing_found=True), {"text": "已排查"},
                         uuid.uuid4(), at)
    return producer().sections(event)  # as the archive enqueues it: the content sealed for the archive


async def _rows(e: Escalation, campaign_id: str = SHIPPED.id) -> dict[tuple[str, str], Any]:
    cases = {campaign_case_id(campaign_id, s) for s in LECHANG} | {campaign_level_case_id(campaign_id, "lechang")}
    rows = await e.pool.fetch("SELECT * FROM obligations WHERE incident_id = ANY($1::uuid[])", list(cases))
    return {(r["school_id"], r["action_id"]): r for r in rows}


async def _count(e: Escalation, n: int) -> dict[tuple[str, str], Any] | None:
    rows = await _rows(e)
    return rows if len(rows) == n else None


async def _of(url: str, stream: str, subject: str, model: Any) -> list[Any]:
    return [model.model_validate_json(m.data) for m in await stream_messages(url, stream)
            if m.subject.startswith(subject)]


async def test_a_start_creates_every_duty_once_with_its_deadline(esc: tuple[Settings, Escalation]) -> None:
    settings, e = esc
    event = _start(settings)
    assert event.school_ids == list(LECHANG)
    await publish(settings.nats_url, event)
    rows = await eventually(lambda: _count(e, 2 * 4 + 1))
    end_of_march = datetime(2027, 3, 31, 16, tzinfo=UTC)  # 2027-04-01 00:00 in Shanghai
    assert {k: (r["role"], r["due_at"]) for k, r in rows.items()} == {
        **{(s, "student_screening"): ("school", end_of_march) for s in LECHANG},
        **{(s, "school_screening"): ("bureau", end_of_march) for s in LECHANG},
        **{(s, "training"): ("school", datetime(2027, 6, 30, 16, tzinfo=UTC)) for s in LECHANG},
        **{(s, "phase_summary"): ("school", datetime(2027, 7, 31, 16, tzinfo=UTC)) for s in LECHANG},
        ("jurisdiction:lechang", "city_summary"): ("bureau", datetime(2027, 7, 31, 16, tzinfo=UTC))}

    # the same start again (a redelivery past the server's dedupe window): nothing twice
    await publish(settings.nats_url, event, msg_id=str(uuid.uuid4()))
    await eventually(lambda: _redelivered(e, event))
    assert len(await _rows(e)) == 9
    updates = await eventually(lambda: exactly(_of(settings.nats_url, DUTIES.name, DUTY_UPDATED, DutyUpdated), 9))
    labels = {(u.school_id, u.duty.action_id): u.duty.label_zh for u in updates}
    assert labels[("demo-school", "school_screening")] == (
        "专项整治（动员部署和排查）：教育局对学校七个方面开展排查（全覆盖、无遗漏）")
    assert labels[("jurisdiction:lechang", "city_summary")] == "专项整治（督导检查）：汇总全市学校总结并上报"
    told = await eventually(lambda: exactly(_of(settings.nats_url, NOTIFY.name, NOTIFICATION_REQUESTED,
                                                NotificationRequested), 2))
    assert sorted(n.recipient.entry for n in told) == ["school:demo-school", "school:second-school"]
    assert all(n.purpose == "campaign_started" and len(n.facts.tasks) == 3 for n in told)
    assert "开展校长、教师防欺凌专题培训（2027年06月30日24时前）" in render(told[0]).body


async def _redelivered(e: Escalation, event: Event) -> bool:
    """The inbox saw the start (once: the second delivery was claimed as a duplicate)."""
    return bool(await e.pool.fetchval("SELECT count(*) = 1 FROM inbox WHERE message_id = $1", str(event.event_id)))


async def test_a_record_settles_exactly_its_duties_before_or_after_the_start(esc: tuple[Settings, Escalation]
                                                                             ) -> None:
    settings, e = esc
    filed_at = utcnow() - timedelta(hours=1)
    early = _record(RecordKind.student_screening, "p1", "demo-school", filed_at)
    await publish(settings.nats_url, early)  # before the start: kept, nothing to settle yet
    await eventually(lambda: e.pool.fetchval("SELECT count(*) FROM campaign_records"))
    assert not await _rows(e)

    await publish(settings.nats_url, _start(settings))
    rows = await eventually(lambda: _count(e, 9))
    done = {k for k, r in rows.items() if r["state"] == "done"}
    assert done == {("demo-school", "student_screening")}  # born done; not second-school's, not another duty
    row = rows[("demo-school", "student_screening")]
    assert (row["settled_by"], row["how"], row["settled_at"]) == ("head-demo", "student_screening", filed_at)
    assert row["evidence_ref"] == str(early.record_id)  # type: ignore[attr-defined]

    # after the start: the bureau's screening of second-school settles the bureau's duty about that school only;
    # a record of another phase settles nothing
    await publish(settings.nats_url, _record(RecordKind.school_screening, "p1", "second-school", utcnow()))
    await publish(settings.nats_url, _record(RecordKind.student_screening, "p2", "second-school", utcnow()))
    await eventually(lambda: e.pool.fetchval("SELECT count(*) = 3 FROM campaign_records"))

    async def settled() -> set[tuple[str, str]] | None:
        found = {k for k, r in (await _rows(e)).items() if r["state"] == "done"}
        return found if len(found) == 2 else None

    assert await eventually(settled) == {("demo-school", "student_screening"), ("second-school", "school_screening")}
    updates = await _of(settings.nats_url, DUTIES.name, DUTY_UPDATED, DutyUpdated)
    born_done = [u for u in updates if (u.school_id, u.duty.action_id) == ("demo-school", "student_screening")]
    assert born_done[-1].duty.state == "done" and born_done[-1].duty.settled_by == "head-demo"


async def test_a_record_for_a_campaign_never_started_is_kept_and_not_retried(esc: tuple[Settings, Escalation]
                                                                            ) -> None:
    settings, e = esc
    await publish(settings.nats_url, _record(RecordKind.training, "p2", "demo-school", utcnow()))
    await eventually(lambda: e.pool.fetchval("SELECT count(*) FROM campaign_records"))
    # acknowledged at once (nothing redelivered, nothing pending): it waits in the table, not on the bus
    assert await eventually(lambda: _no_pending(settings, "escalation-CampaignRecordFiled"))
    assert not await _rows(e)


async def _no_pending(settings: Settings, durable: str) -> bool:
    import nats

    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().consumer_info(OFFICIALS.name, durable)
        return info.num_pending == 0 and info.num_ack_pending == 0 and info.num_redelivered == 0
    finally:
        await nc.close()


def _overdue_campaign() -> Campaign:
    """The shipped campaign with its first phase already over: started late, its duties are born overdue."""
    plan = SHIPPED.model_dump(mode="json")
    plan["phases"][0]["due"] = str(date(2026, 3, 31))
    return Campaign.model_validate(plan)


async def test_a_missed_campaign_deadline_goes_up_its_chain_in_chinese(esc: tuple[Settings, Escalation]) -> None:
    settings, e = esc
    campaign = _overdue_campaign()
    now = utcnow()
    await publish(settings.nats_url, _start(settings, campaign, now))
    await eventually(lambda: _count(e, 9))
    overdue = {("demo-school", "student_screening"), ("second-school", "student_screening"),
               ("demo-school", "school_screening"), ("second-school", "school_screening")}
    assert await e.watchdog.tick(now) == 4  # born overdue: the next pass escalates them
    assert await e.watchdog.tick(now) == 0
    missed = await eventually(lambda: exactly(_of(settings.nats_url, ESCALATION.name, DEADLINE_MISSED,
                                                  DeadlineMissed), 4))
    assert {(m.action_id, m.escalated_to) for m in missed} == {("student_screening", "乐昌市教育局值班室"),
                                                               ("school_screening", "乐昌市教育局分管领导")}
    notices = [n for n in await _of(settings.nats_url, NOTIFY.name, NOTIFICATION_REQUESTED, NotificationRequested)
               if n.purpose.startswith("campaign_deadline")]
    assert len(notices) == 4 and {n.purpose for n in notices} == {"campaign_deadline_missed"}
    school = next(n for n in notices if n.incident_id == campaign_case_id(campaign.id, "demo-school")
                  and n.recipient.entry == "bureau")
    text = render(school)
    assert text.subject == "【专项整治·逾期未办】乐昌市示范中学（动员部署和排查）：全面排查本校学生并报送排查报告"
    assert "“2027年防治中小学生欺凌专项整治”中，乐昌市示范中学的" in text.body
    assert "（应办单位：学校）应于2026年03月31日24时前完成，至今未完成。" in text.body
    about = next(n for n in notices if n.incident_id == campaign_case_id(campaign.id, "demo-school")
                 and n.recipient.entry == "contact:bureau_leader")
    assert "教育局对学校七个方面开展排查（全覆盖、无遗漏）”（应办单位：教育局）" in render(about).body

    # each week unsettled: the chain's last name is reminded twice, then the duty goes to the daily digest
    for week in (1, 2, 3):
        assert await e.watchdog.tick(now + timedelta(days=7 * week, minutes=1)) == 4
    rows = await _rows(e)
    assert {rows[k]["escalating"] for k in overdue} == {"digest"}
    digest = await e.watchdog.digest.run(now + timedelta(days=22))
    [request] = [d.request for d in digest if d.jurisdiction == "lechang" and d.request]
    assert {item.zh for item in request.facts.digest} == {
        "专项整治（动员部署和排查）：全面排查本校学生并报送排查报告",
        "专项整治（动员部署和排查）：教育局对学校七个方面开展排查（全覆盖、无遗漏）"}
    assert {item.case_ref[:3] for item in request.facts.digest} == {"ZX-"}


async def test_an_official_discharges_the_once_per_campaign_duty(esc: tuple[Settings, Escalation]) -> None:
    settings, e = esc
    await publish(settings.nats_url, _start(settings))
    await eventually(lambda: _count(e, 9))
    level = campaign_level_case_id(SHIPPED.id, "lechang")
    obligation_id = duty_obligation_id(level, "city_summary")
    done_at = utcnow()
    await publish(settings.nats_url, DutyDischarged(
        event_id=derive_id("duty-discharged", obligation_id, "account", BUREAU.account_id), incident_id=level,
        school_id="jurisdiction:lechang", obligation_id=obligation_id, how=DischargeHow.official_account,
        by=BUREAU.account_id, done_at=done_at, evidence_ref="city-summary-2027.docx"))

    async def settled() -> Any:
        row = (await _rows(e))[("jurisdiction:lechang", "city_summary")]
        return row if row["state"] == "done" else None

    row = await eventually(settled)
    assert (row["settled_by"], row["how"], row["evidence_ref"]) == ("bureau-li", "official_account",
                                                                   "city-summary-2027.docx")
    assert [k for k, r in (await _rows(e)).items() if r["state"] == "done"] == [("jurisdiction:lechang",
                                                                                 "city_summary")]


async def test_a_school_sees_its_campaign_duties_not_the_jurisdictions(settings: Settings, tmp_path: Path,
                                                                     intake: Intake) -> None:
    quiet = settings.model_copy(update={"watchdog_interval_s": 3600.0,
                                        "directory_file": directory_with_more_schools(tmp_path)})
    async with escalation(quiet) as e:
        await publish(quiet.nats_url, _start(quiet))
        await eventually(lambda: _count(e, 9))
        await eventually(lambda: intake_rows(intake, 9))

        async def listed() -> list[dict[str, Any]] | None:
            r = await intake.client.get("/v1/duties", headers=intake.headers())
            assert r.status_code == 200, r.text
            items: list[dict[str, Any]] = r.json()["items"]
            return items if len(items) == 4 else None

        items = await eventually(listed)
        case = str(campaign_case_id(SHIPPED.id, "demo-school"))
        assert {(i["action_id"], i["role"], i["case_id"]) for i in items} == {
            ("student_screening", "school", case), ("school_screening", "bureau", case),
            ("training", "school", case), ("phase_summary", "school", case)}


async def intake_rows(intake: Intake, n: int) -> bool:
    import asyncpg

    conn = await asyncpg.connect(intake.settings.database_url, server_settings={"search_path": "intake"})
    try:
        return bool(await conn.fetchval("SELECT count(*) = $1 FROM duties", n))
    finally:
        await conn.close()



async def test_the_archive_projects_every_campaign_duty_in_its_jurisdiction(esc: tuple[Settings, Escalation]
                                                                           ) -> None:
    """The archive's projection (its duty lists read it once the campaign's cases exist, camp-archive's part)."""
    from services.archive.app import running as archive
    from tests.helpers import owner_connection

    settings, e = esc
    async with archive(settings):
        await publish(settings.nats_url, _start(settings))
        await eventually(lambda: _count(e, 9))
        conn = await owner_connection(settings)
        try:
            rows = await eventually(lambda: exactly(conn.fetch(
                "SELECT school_id, jurisdiction, action_id, role, label_zh FROM duties"), 9))
        finally:
            await conn.close()
    assert {r["jurisdiction"] for r in rows} == {"lechang"}
    city = next(r for r in rows if r["action_id"] == "city_summary")
    assert (city["school_id"], city["role"]) == ("jurisdiction:lechang", "bureau")
    assert {r["school_id"] for r in rows} == {*LECHANG, "jurisdiction:lechang"}


async def test_the_mails_a_campaign_sends_read_in_chinese(esc: tuple[Settings, Escalation], smtp_sink: Any) -> None:
    """Through notify to the mail sink: the schools' start notices, then the missed duties up the chain."""
    from services.notify.app import running as notify

    settings, e = esc
    campaign = _overdue_campaign()
    now = utcnow()

    def mails(*subjects: str) -> Any:
        async def probe() -> dict[str, str] | None:
            got = {str(m["Subject"]): m.get_body(("plain",)).get_content() for m in smtp_sink.messages}
            return got if all(s in got for s in subjects) else None
        return probe

    async with notify(settings):
        await publish(settings.nats_url, _start(settings, campaign, now))
        await eventually(lambda: _count(e, 9))
        started = await eventually(mails("【专项整治】2027年防治中小学生欺凌专项整治：乐昌市示范中学须完成的事项",
                                         "【专项整治】2027年防治中小学生欺凌专项整治：乐昌市第二中学须完成的事项"))
        body = started["【专项整治】2027年防治中小学生欺凌专项整治：乐昌市示范中学须完成的事项"]
        assert "全面排查本校学生并报送排查报告（2026年03月31日24时前）" in body
        assert await e.watchdog.tick(now) == 4
        missed = await eventually(mails(
            "【专项整治·逾期未办】乐昌市第二中学（动员部署和排查）：全面排查本校学生并报送排查报告",
            "【专项整治·逾期未办】乐昌市示范中学（动员部署和排查）：教育局对学校七个方面开展排查（全覆盖、无遗漏）"))
    body = missed["【专项整治·逾期未办】乐昌市第二中学（动员部署和排查）：全面排查本校学生并报送排查报告"]
    assert body.startswith("乐昌市教育局值班室：")
    assert "（应办单位：学校）应于2026年03月31日24时前完成，至今未完成。" in body
