"""The ledger (台账) on real JetStream and PostgreSQL: counts match the cases published, each reader sees
only its authority, the CSV and XLSX hold the same numbers, every read is logged with its purpose, and no
child's or guardian's name appears in any output."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import openpyxl
import pytest

from services.archive import repository
from services.archive.app import running
from services.archive.ledger import LATE_FLAG, REPEAT_FLAG, REPEAT_REASON, Period
from services.archive.scopes import Scope
from services.escalation.domain import decide
from services.escalation.notices import plan
from services.intake.reports import reported_event
from shared.config import Settings
from shared.contracts import DeadlineMissed, IncidentReport, LookBackScheduled, RecipientRole
from shared.contracts.base import Event, derive_id
from shared.contracts.hazard import HazardFinding, HazardProgress, HazardProgressed, HazardReported
from shared.contracts.help import (
    HelpConverted,
    HelpMessageAdded,
    HelpRequested,
    HelpResolution,
    HelpResolved,
    Requester,
)
from shared.contracts.officials import LookBackCompleted
from shared.directory import load_directory
from tests.helpers import default_policy, eventually, official_headers, publish
from tests.test_archive_reads import ACCOUNTS, HELP_TEXT, MINOR, Clock, _body, directory_file

PERSONAL = ("李小明", "王强", "赵磊", "李建国", "王芳", "赵军", "孙旁观", "孙家长", "13900000009", "陈老师", HELP_TEXT,
            "S-9001", "教学楼三楼")
PERIOD = {"from": "2025-09", "to": "2025-11"}
PURPOSE = "学期台账汇总"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class LedgerWorld:
    client: httpx.AsyncClient
    settings: Settings
    pool: asyncpg.Pool
    headers: dict[str, dict[str, str]]
    levels: dict[str, str]         # incident name → decided level
    refs: dict[str, str]           # case name → case reference


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self.settings, self.count = settings, 0
        self.directory = load_directory(settings.directory_file)
        self.levels: dict[str, str] = {}
        self.ids: dict[str, uuid.UUID] = {}

    async def send(self, event: Event) -> None:
        await publish(self.settings.nats_url, event)
        self.count += 1

    async def incident(self, name: str, reported: datetime, school: str = "demo-school", late: bool = False,
                       earlier: tuple[str, ...] = (), **indicators: Any) -> uuid.UUID:
        body = _body(school, bystander=True, **indicators)
        discovered = reported - (timedelta(hours=48) if late else timedelta(hours=1))
        body["occurred_at"], body["discovered_at"] = (discovered - timedelta(minutes=30)).isoformat(), \
            discovered.isoformat()
        event = reported_event(IncidentReport.model_validate(body), f"ledger-{name}").model_copy(
            update={"occurred_at": reported})
        decided, _ = plan(event, decide(event.facts, default_policy(), reported, earlier), self.directory)
        await self.send(event)
        await self.send(decided)
        self.levels[name], self.ids[name] = decided.level.value, event.incident_id
        return event.incident_id

    async def hazard(self, name: str, found: datetime, completed: bool | None) -> None:
        hazard_id = derive_id("ledger-hz", name)
        finding = HazardFinding.model_validate(
            {"school_id": "demo-school", "found_at": found.isoformat(), "kind": "hazard_point",
             "students": [{"ref": "S-2031", "role": "at_risk"}], "observed": "楼梯间监控盲区", "risk_level": "medium",
             "intervention": "加强巡查", "rectification": {"plan": "加装监控", "due_date": "2025-12-20",
                                                          "responsible": "后勤处"}})
        await self.send(HazardReported(event_id=derive_id("hz", hazard_id), hazard_id=hazard_id, occurred_at=found,
                                       school_id="demo-school", finding=finding))
        if completed is not None:
            await self.send(HazardProgressed(
                event_id=derive_id("hp", hazard_id), hazard_id=hazard_id, school_id="demo-school",
                progress_id=uuid.uuid4(), seq=1,
                progress=HazardProgress(at=found + timedelta(days=5), step="已加装", completed=completed)))
        self.ids[name] = hazard_id

    async def help(self, name: str, asked: datetime, reply: str | None = None,
                   converted_to: uuid.UUID | None = None, resolved: bool = False) -> None:
        help_id = derive_id("ledger-help", name)
        await self.send(HelpRequested(event_id=derive_id("hr", help_id), help_id=help_id, occurred_at=asked,
                                      school_id="demo-school", case_code=f"HLEDGER{name.upper()}",
                                      requester=Requester(kind="student"), message=HELP_TEXT, urgent=False))
        if reply is not None:
            await self.send(HelpMessageAdded(event_id=derive_id("hm", help_id), help_id=help_id,
                                             school_id="demo-school", seq=2, author=reply, text="收到"))
        if converted_to is not None:
            await self.send(HelpConverted(event_id=derive_id("hc", help_id), help_id=help_id,
                                          school_id="demo-school", incident_id=converted_to))
        if resolved:
            await self.send(HelpResolved(event_id=derive_id("hres", help_id), help_id=help_id,
                                         school_id="demo-school", resolution=HelpResolution.no_bullying,
                                         reason="经核实系同学间玩笑，未发现欺凌。", by="班主任"))
        self.ids[name] = help_id

    async def lookback(self, name: str, scheduled: datetime, trigger: uuid.UUID, done: bool) -> None:
        lookback_id = derive_id("ledger-lb", name)
        await self.send(LookBackScheduled(event_id=derive_id("lb", lookback_id), lookback_id=lookback_id,
                                          occurred_at=scheduled, school_id="demo-school",
                                          trigger_incident_id=trigger, due_at=scheduled + timedelta(days=30)))
        if done:
            await self.send(LookBackCompleted(event_id=derive_id("lc", lookback_id), lookback_id=lookback_id,
                                              school_id="demo-school", by="bureau"))
        self.ids[name] = lookback_id


async def _publish(p: Publisher) -> None:
    severe = await p.incident("sep_severe", at("2025-09-15T10:00:00+08:00"))
    # 00:30 on 1 October in Shanghai is still 30 September in UTC: it counts in October.
    boundary = await p.incident("oct_boundary", at("2025-10-01T00:30:00+08:00"), **MINOR)
    await p.incident("oct_late", at("2025-10-20T10:00:00+08:00"), late=True, **MINOR)
    repeat = await p.incident("nov_repeat", at("2025-11-05T10:00:00+08:00"), earlier=("AB-0000EA51",), **MINOR)
    await p.incident("aug_outside", at("2025-08-20T10:00:00+08:00"), **MINOR)
    await p.incident("far", at("2025-10-10T10:00:00+08:00"), school="far-school", **MINOR)
    await p.send(DeadlineMissed(event_id=uuid.uuid4(), incident_id=boundary, obligation_id=uuid.uuid4(),
                                action_id="notify_school", role=RecipientRole.school, state="pending",
                                due_at=at("2025-10-02T00:30:00+08:00"), step=1, escalated_to="bureau"))
    await p.hazard("hz_rectified", at("2025-10-08T09:00:00+08:00"), completed=True)
    await p.hazard("hz_open", at("2025-11-10T09:00:00+08:00"), completed=False)
    await p.help("answered", at("2025-09-20T20:00:00+08:00"), reply="school")
    await p.help("unanswered", at("2025-11-12T20:00:00+08:00"), reply="requester")
    await p.help("converted", at("2025-11-15T20:00:00+08:00"), converted_to=repeat)
    await p.help("resolved", at("2025-11-16T20:00:00+08:00"), resolved=True)  # answered, yet an unconverted tip
    await p.lookback("lb_done", at("2025-09-25T09:00:00+08:00"), severe, done=True)
    await p.lookback("lb_due", at("2025-11-20T09:00:00+08:00"), severe, done=False)


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[LedgerWorld]:
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path)})
    async with running(settings, clock=Clock()) as infra, httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10
    ) as client:
        p = Publisher(settings)
        await _publish(p)

        async def recorded() -> bool:
            return bool(await infra.pool.fetchval("SELECT count(*) FROM entries") == p.count)

        await eventually(recorded)
        headers = {account: await official_headers(client, settings.database_url, account, role=role,
                                                   jurisdiction=jurisdiction, school=school,
                                                   purpose=quote(PURPOSE))
                   for account, (role, jurisdiction, school) in ACCOUNTS.items()}
        refs = {name: await infra.pool.fetchval("SELECT case_ref FROM cases WHERE incident_id = $1", case_id)
                for name, case_id in p.ids.items()}
        yield LedgerWorld(client, settings, infra.pool, headers, p.levels, refs)


def _expected(levels: dict[str, str]) -> dict[str, dict[str, int]]:
    """demo-school's counts by month, restated from what _publish sent."""
    sep = {"incidents": 1, levels["sep_severe"]: 1, "help_requests": 1, "unconverted_tips": 1, "lookbacks": 1}
    octo = {"incidents": 2, "minor": 2, "overdue": 1, "late_reports": 1, "hazards": 1, "hazards_rectified": 1}
    nov = {"incidents": 1, levels["nov_repeat"]: 1, "repeat_cases": 1, "hazards": 1, "hazards_open": 1,
           "help_requests": 3, "help_unanswered": 1, "unconverted_tips": 2, "lookbacks": 1, "lookbacks_due": 1}
    return {"2025-09": sep, "2025-10": octo, "2025-11": nov}


def _nonzero(counts: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k != "month" and v}


def _total(by_month: dict[str, dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for counts in by_month.values():
        for k, v in counts.items():
            out[k] = out.get(k, 0) + v
    return out


async def test_ledger_counts_and_scopes(world: LedgerWorld) -> None:
    c, expected = world.client, _expected(world.levels)
    assert world.levels["sep_severe"] != "minor" and world.levels["nov_repeat"] != "minor"  # the rules' doing
    r = await c.get("/v1/ledger", params=PERIOD, headers=world.headers["bureau"])
    assert r.status_code == 200, r.text
    ledger = r.json()
    assert [s["school_id"] for s in ledger["schools"]] == ["demo-school"]  # far-school is renhua's
    school = ledger["schools"][0]
    assert {m["month"]: _nonzero(m) for m in school["months"]} == expected
    assert _nonzero(school["totals"]) == _total(expected)
    [lechang] = ledger["jurisdictions"]
    assert lechang["jurisdiction"] == "lechang" and _nonzero(lechang["totals"]) == _total(expected)
    assert [m["month"] for m in lechang["months"]] == ["2025-09", "2025-10", "2025-11"]

    mine = (await c.get("/v1/ledger", params=PERIOD, headers=world.headers["school-a"])).json()
    assert [s["school_id"] for s in mine["schools"]] == ["demo-school"]
    assert mine["schools"][0]["totals"] == school["totals"]
    # A school asking for another school's row gets nothing: the filter narrows, never widens.
    other = (await c.get("/v1/ledger", params={**PERIOD, "school": "far-school"},
                         headers=world.headers["school-a"])).json()
    assert other["schools"] == [] and other["jurisdictions"] == []
    far = (await c.get("/v1/ledger", params=PERIOD, headers=world.headers["bureau-far"])).json()
    assert [s["school_id"] for s in far["schools"]] == ["far-school"]
    assert _nonzero(far["schools"][0]["totals"]) == {"incidents": 1, "minor": 1}
    assert "demo-school" not in str(far)
    one_month = (await c.get("/v1/ledger", params={"from": "2025-10", "to": "2025-10"},
                             headers=world.headers["bureau"])).json()
    assert _nonzero(one_month["schools"][0]["totals"]) == expected["2025-10"]
    for account in ("police", "stability"):
        for path in ("/v1/ledger", "/v1/ledger.csv", "/v1/ledger.xlsx", "/v1/ledger/summary"):
            denied = await c.get(path, params={**PERIOD, "school": "demo-school"}, headers=world.headers[account])
            assert denied.status_code == 403, (account, path)
    bad = await c.get("/v1/ledger", params={"from": "2025-13"}, headers=world.headers["bureau"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.from"
    backwards = await c.get("/v1/ledger", params={"from": "2025-11", "to": "2025-09"},
                            headers=world.headers["bureau"])
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["reason_zh"]


async def test_the_monthly_rollup_matches_a_count_over_the_cases(world: LedgerWorld) -> None:
    """ledger_months is kept by a trigger as events update the projection in any order; it must say what
    counting every case again says."""
    period = Period.parse("2025-01", "2025-12", datetime.now().date())
    for scope in (Scope(jurisdiction="lechang"), Scope(jurisdiction="renhua"), Scope(school_id="demo-school")):
        kept = await repository.ledger_counts(world.pool, scope, None, period.first, period.last)
        counted = await repository.ledger_counts_from_cases(world.pool, scope, None, period.since(), period.until(),
                                                            LATE_FLAG, REPEAT_FLAG, REPEAT_REASON)
        as_of = {(r["school_id"], r["month"]): {k: v for k, v in r.items() if k != "month"} for r in counted}
        assert {(r["school_id"], r["month"]): {k: v for k, v in r.items() if k != "month"} for r in kept
                if any(v for k, v in r.items() if k in repository.LEDGER_FIELDS)} == as_of, scope
        assert len(as_of) >= 1
    with pytest.raises(ValueError):
        await repository.ledger_counts(world.pool, Scope(jurisdiction="lechang", referred_to_police_only=True), None,
                                       period.first, period.last)


async def test_exports_hold_the_same_numbers_without_personal_data(world: LedgerWorld) -> None:
    c, expected = world.client, _expected(world.levels)
    r = await c.get("/v1/ledger.csv", params=PERIOD, headers=world.headers["bureau"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:4] == ["管辖区域", "学校代码", "学校名称", "月份"]
    assert "情节轻微" in header and "隐患未整改" in header
    by_key = {(row[1], row[3]): dict(zip(header, row, strict=True)) for row in rows[1:]}
    total = by_key[("demo-school", "合计")]
    assert total["学校名称"] == load_directory(world.settings.directory_file).schools["demo-school"].name
    assert int(total["欺凌事件数"]) == 4 and int(total["迟报"]) == 1 and int(total["曾逾期"]) == 1
    assert int(total["逾期未办（当前）"]) == 0  # no duty projected in this world: nothing is overdue now
    assert int(total["隐患已整改"]) == 1 and int(total["隐患未整改"]) == 1 and int(total["求助未回复"]) == 1
    assert int(total["待回头看"]) == 1 and int(total["屡教不改（重复涉事）"]) == 1
    assert int(total["求助未转为事件"]) == 3  # answered, unanswered and resolved: not the converted one
    assert int(by_key[("demo-school", "2025-10")]["情节轻微"]) == expected["2025-10"]["minor"]
    assert int(by_key[("全部", "合计")]["欺凌事件数"]) == 4

    x = await c.get("/v1/ledger.xlsx", params=PERIOD, headers=world.headers["bureau"])
    assert x.status_code == 200 and x.headers["content-disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
    sheet = [list(row) for row in book["台账"].iter_rows(values_only=True)]
    assert sheet[0] == header
    xlsx_rows = {(row[1], row[3]): dict(zip(header, row, strict=True)) for row in sheet[1:]}
    assert {k: {h: str(v) for h, v in row.items()} for k, row in xlsx_rows.items()} == by_key
    cells = " ".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row)

    s = await c.get("/v1/ledger/summary", params=PERIOD, headers=world.headers["school-a"])
    assert s.status_code == 200, s.text
    summary = s.json()
    why = {a["case_ref"]: a["attention"] for a in summary["attention"]}
    refs = world.refs
    assert why == {refs["oct_boundary"]: ["overdue"], refs["oct_late"]: ["late_report"],
                   refs["nov_repeat"]: ["repeat"], refs["hz_open"]: ["hazard_open"],
                   refs["unanswered"]: ["help_unanswered"], refs["lb_due"]: ["lookback_due"]}
    assert summary["totals"]["incidents"] == 4 and "欺凌事件 4 起" in summary["report_zh"]
    assert summary["totals"]["unconverted_tips"] == 3 and "未转为欺凌事件 3 件" in summary["report_zh"]
    md = await c.get("/v1/ledger/summary.md", params={**PERIOD, "school": "demo-school"},
                     headers=world.headers["bureau"])
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert refs["lb_due"] in md.text and "## 分月统计" in md.text and "| 2025-10 |" in md.text
    assert (await c.get("/v1/ledger/summary", params={**PERIOD, "school": "far-school"},
                        headers=world.headers["bureau"])).status_code == 404
    unnamed = await c.get("/v1/ledger/summary", params=PERIOD, headers=world.headers["bureau"])
    assert unnamed.status_code == 422 and unnamed.json()["errors"][0]["field"] == "query.school"

    ledger = (await c.get("/v1/ledger", params=PERIOD, headers=world.headers["bureau"])).text
    for text in (r.content.decode("utf-8-sig"), cells, s.text, md.text, ledger):
        leaked = [p for p in PERSONAL if p in text]
        assert leaked == [], leaked


async def test_ledger_reads_are_logged_with_their_purpose(world: LedgerWorld) -> None:
    c, hdr = world.client, world.headers["bureau"]
    no_purpose = {"Authorization": hdr["Authorization"]}
    for path in ("/v1/ledger", "/v1/ledger.csv", "/v1/ledger.xlsx", "/v1/ledger/summary"):
        missing = await c.get(path, params={**PERIOD, "school": "demo-school"}, headers=no_purpose)
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "query.purpose", path
        assert (await c.get(path, headers={"X-Access-Purpose": "no token"})).status_code == 401
    for path in ("/v1/ledger", "/v1/ledger.csv", "/v1/ledger.xlsx"):
        assert (await c.get(path, params=PERIOD, headers=hdr)).status_code == 200
    assert (await c.get("/v1/ledger/summary", params={**PERIOD, "school": "demo-school"},
                        headers=hdr)).status_code == 200
    log = (await c.get("/v1/access-log", params={"limit": 10}, headers=hdr)).json()["items"]
    reads = [(e["action"], e["filter"].get("format"), e["purpose"], e["filter"]["from"], e["filter"]["to"])
             for e in reversed(log) if e["action"] in ("ledger", "export")]
    assert reads == [("ledger", "json", PURPOSE, "2025-09", "2025-11"),
                     ("export", "csv", PURPOSE, "2025-09", "2025-11"),
                     ("export", "xlsx", PURPOSE, "2025-09", "2025-11"),
                     ("ledger", "summary", PURPOSE, "2025-09", "2025-11")]
