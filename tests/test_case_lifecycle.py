"""Issue 11's walk from report to closure, through the HTTP APIs a school system and officials use, with all four
services running on real JetStream, PostgreSQL and SMTP:

a severe report → the record lists every duty with its deadline → a follow-up adds a second victim (her
counselling duty and her family's notice) → the police record receipt and their case number → the bureau
confirms its notice from its account → the duties overdue now are listed → the school reports counselling,
the warning talk, the sanction and the evaluation note done → the bureau records the special-school
assessment → two bureau officials approve closure → the case is closed, nothing is owed, the watchdog is silent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from antibully.cli import add_school
from antibully.infra import SmtpSink
from services.archive.app import running as archive
from services.escalation.app import Escalation
from services.escalation.app import running as escalation
from services.intake.app import running as intake
from services.notify.app import running as notify
from shared.config import Settings
from shared.crypto import new_key_b64
from tests.helpers import eventually, official_headers, report
from tests.test_archive_reads import Clock

pytestmark = pytest.mark.timeout(240)

NEW_VICTIM = {"ref": "S-2001", "role": "victim", "name": "周小雨", "grade": "初二（3）班",
              "guardians": [{"name": "周敏", "relation": "母亲", "email": "zhou.parent@example.cn"}]}


@dataclass
class System:
    intake: httpx.AsyncClient
    archive: httpx.AsyncClient
    school_key: str
    officials: dict[str, dict[str, str]]
    escalation: Escalation
    clock: Clock

    def school(self, idem: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.school_key}", "Idempotency-Key": idem}


@pytest.fixture
async def system(settings: Settings, smtp_sink: SmtpSink) -> AsyncIterator[System]:
    settings = settings.model_copy(update={"escalation_data_key": new_key_b64(), "archive_token_ttl_s": 90 * 86400,
                                           "watchdog_interval_s": 3600.0})
    clock = Clock()
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(intake(settings))
        esc = await stack.enter_async_context(escalation(settings))
        await stack.enter_async_context(notify(settings))
        await stack.enter_async_context(archive(settings, clock=clock))
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        i = await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}",
                                                              timeout=15))
        a = await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.archive_port}",
                                                              timeout=15))
        db = settings.database_url
        officials = {"bureau": await official_headers(a, db, "bureau-wang"),
                     "bureau-li": await official_headers(a, db, "bureau-li"),
                     "police": await official_headers(a, db, "police-zhao", role="police")}
        yield System(i, a, key, officials, esc, clock)


async def _duties(s: System, case_id: str) -> dict[str, list[dict[str, Any]]]:
    """The record's duties by action, once the archive has projected every version escalation made."""
    versions = {str(r["obligation_id"]): r["version"] for r in await s.escalation.pool.fetch(
        "SELECT obligation_id, version FROM obligations WHERE incident_id = $1", uuid.UUID(case_id))}
    got = await s.archive.get(f"/v1/cases/{case_id}", headers=s.officials["bureau"])
    if got.status_code != 200 or {d["obligation_id"]: d["version"] for d in got.json()["duties"]} != versions:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for d in got.json()["duties"]:
        out.setdefault(d["action_id"], []).append(d)
    return out


async def _until(s: System, case_id: str, settled: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Poll until every duty of these actions is settled (and everything is projected)."""
    async def probe() -> dict[str, list[dict[str, Any]]]:
        duties = await _duties(s, case_id)
        done = duties and all(d["state"] in ("done", "acknowledged", "waived", "not_applicable")
                              for a in settled for d in duties.get(a, [{"state": "missing"}]))
        return duties if done else {}
    return await eventually(probe, timeout_s=60, interval_s=0.3)


async def _act(s: System, case_id: str, who: str, path: str, body: dict[str, Any]) -> None:
    r = await s.archive.post(f"/v1/cases/{case_id}/{path}", json=body, headers=s.officials[who])
    assert r.status_code == 202, (path, r.text)


async def test_from_report_to_closure(system: System) -> None:
    s = system
    posted = await s.intake.post("/v1/incidents", json=report(), headers=s.school("lifecycle-1"))
    assert posted.status_code == 202, posted.text
    case_id = posted.json()["incident_id"]

    # every duty, with its deadline, in the record
    duties = await eventually(lambda: _duties(s, case_id), timeout_s=30)
    assert {"counselling", "criticism_and_warning_talk", "disciplinary_sanction", "quality_evaluation_note",
            "special_school_assessment", "contact_police", "report_to_bureau"} <= set(duties)
    assert all(d["due_at"] and d["state"] in ("open", "delivered", "done") for ds in duties.values() for d in ds)

    # a follow-up adds a second victim: her counselling duty and her family's notice
    added = await s.intake.post(f"/v1/incidents/{case_id}/follow-ups", json={"students_added": [NEW_VICTIM]},
                                headers=s.school("lifecycle-2"))
    assert added.status_code == 202, added.text

    async def second_victim() -> dict[str, list[dict[str, Any]]]:
        d = await _duties(s, case_id)
        refs = {x["student_ref"] for x in d.get("counselling", [])}
        families = {x["student_ref"] for x in d.get("notify_victim_family", [])}
        return d if "S-2001" in refs and "S-2001" in families else {}
    await eventually(second_victim, timeout_s=30)

    # the police record receipt and their case number; the bureau confirms its notice from its account
    await _act(s, case_id, "police", "acts", {"act": "police_received", "reason": "已接收移送材料"})
    await _act(s, case_id, "police", "acts", {"act": "police_case_number", "reason": "已受理",
                                              "police_case_number": "乐公(治)受字〔2026〕1130号"})
    bureau_notice = duties["report_to_bureau"][0]["notification_id"]
    await _act(s, case_id, "bureau", "acknowledgements", {"notification_id": bureau_notice})
    duties = await _until(s, case_id, {"contact_police", "report_to_bureau"})
    assert duties["contact_police"][0]["how"] == "police_received"
    assert duties["report_to_bureau"][0]["how"] == "official_account"

    # four days on, the school's tasks are overdue now: the bureau's list says so
    s.clock.now += timedelta(days=4)
    overdue = await s.archive.get("/v1/duties", params={"overdue": "true", "purpose": "每日督办"},
                                  headers=s.officials["bureau"])
    assert overdue.status_code == 200, overdue.text
    late = {d["action_id"] for d in overdue.json()["items"] if d["case_id"] == case_id}
    assert {"counselling", "criticism_and_warning_talk"} <= late

    # the school reports its tasks done in a follow-up; the bureau records the special-school assessment
    done_at = "2026-11-30T10:00:00+08:00"
    completed = [{"action": "counselling", "student_ref": ref, "done_at": done_at} for ref in ("S-1042", "S-2001")]
    completed += [{"action": a, "done_at": done_at, "note": "已按规定办理"} for a in
                  ("criticism_and_warning_talk", "disciplinary_sanction", "quality_evaluation_note")]
    r = await s.intake.post(f"/v1/incidents/{case_id}/follow-ups", json={"completed": completed},
                            headers=s.school("lifecycle-3"))
    assert r.status_code == 202, r.text
    [assessment] = duties["special_school_assessment"]
    await _act(s, case_id, "bureau", f"duties/{assessment['obligation_id']}/completion",
               {"note": "经评估暂不转入专门学校", "evidence_ref": "乐教专评〔2026〕12号"})
    everything = {a for a in duties if a != "send_follow_up"}
    await _until(s, case_id, everything)

    # the school proposes closure; two bureau officials approve: closed, nothing owed, the watchdog silent
    proposed = await s.intake.post(f"/v1/incidents/{case_id}/follow-ups",
                                   json={"outcome": "各项处置已落实。", "propose_closure": True},
                                   headers=s.school("lifecycle-4"))
    assert proposed.status_code == 202, proposed.text
    follow_up_id = proposed.json()["follow_up_id"]

    async def proposal() -> bool:
        rec = (await s.archive.get(f"/v1/cases/{case_id}", headers=s.officials["bureau"])).json()
        return any(e["event_type"] == "ChangeProposed" for e in rec["timeline"])
    await eventually(proposal, timeout_s=30)
    for who in ("bureau", "bureau-li"):
        await _act(s, case_id, who, "approvals", {"follow_up_id": follow_up_id, "change": "closure"})

    async def closed() -> dict[str, Any] | None:
        rec = (await s.archive.get(f"/v1/cases/{case_id}", headers=s.officials["bureau"])).json()
        open_ = [d for d in rec["duties"] if d["state"] not in ("done", "acknowledged", "waived", "not_applicable")]
        return rec if rec["status"] == "closed" and not open_ else None
    record = await eventually(closed, timeout_s=60)
    assert record["personal"] is not None
    assert {a["act"] for a in record["acts"]} >= {"police_received", "police_case_number"}
    # the school's first incident also scheduled a look-back; the bureau reports it done
    lookbacks = (await s.archive.get("/v1/cases", params={"kind": "lookback", "purpose": "回头看"},
                                     headers=s.officials["bureau"])).json()
    for lb in lookbacks["items"]:
        await _act(s, lb["case_id"], "bureau", "completion", {"findings": "已复查"})
    await eventually(lambda: _nothing_open(s), timeout_s=30)
    assert await s.escalation.watchdog.tick(s.clock.now + timedelta(days=90)) == 0


async def _nothing_open(s: System) -> bool:
    return not await s.escalation.pool.fetchval(
        "SELECT count(*) FROM obligations WHERE state NOT IN ('acknowledged', 'done', 'waived', 'not_applicable')")
