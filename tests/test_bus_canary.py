"""Canaries on the bus: a real end-to-end flow through all four services, with a raw subscriber on `ab.>`
(core NATS) and every stream read back afterwards, finds no child's or family's name, phone, e-mail,
free text, nor a robot's secret, in any message's bytes.

The flow: a severe incident whose guardians have a phone and an e-mail, a follow-up, a parent's help
request with a message and the school's reply, the notices sent, and an official's act with free text.
The contract is a plain substring search of the raw bytes (JSON escapes are switched off by checking
both the UTF-8 and the \\u-escaped forms): a field sealed for its readers never shows its plaintext.
"""

from __future__ import annotations

import asyncio
import copy
import json
from contextlib import AsyncExitStack
from typing import Any

import httpx
import nats
import pytest

from antibully.cli import add_access_code, add_school
from antibully.infra import SmtpSink
from services.archive.app import running as archive
from services.escalation.app import running as escalation
from services.intake.app import running as intake
from services.intake.examples import FOLLOW_UP_EXAMPLE_BODY, SEVERE_EXAMPLE
from services.notify.app import running as notify
from shared.config import Settings
from shared.subjects import (
    DUTY_UPDATED,
    ESCALATION_DECIDED,
    FOLLOW_UP_REPORTED,
    HELP_MESSAGE_ADDED,
    HELP_REQUESTED,
    INCIDENT_REPORTED,
    LOOKBACK_COMPLETED,
    LOOKBACK_SCHEDULED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_REQUESTED,
    OFFICIAL_ACTED,
    STREAMS,
)
from tests.helpers import eventually, official_headers, stream_messages

# Canaries: distinctive values no code path would produce by itself.
NAMES = {"student": "甄金丝", "other_student": "雀小宝", "guardian": "甄雀父", "other_guardian": "雀宝母",
         "reporter": "鸟鸣老师", "help_requester": "求助金丝母"}
CONTACTS = {"guardian_phone": "13911117771", "guardian_email": "canary.father@example.org",
            "other_phone": "13911117772", "other_email": "canary.mother@example.org",
            "help_phone": "13911117773"}
FREE_TEXT = {"location": "金丝雀楼七层", "cause": "金丝雀起因文字", "course": "金丝雀经过文字",
             "measure": "金丝雀措施文字", "follow_up_facts": "金丝雀续报事实", "follow_up_measure": "金丝雀续报措施",
             "help_message": "金丝雀求助内容", "help_reply": "金丝雀学校回复", "act_reason": "金丝雀官员理由",
             "lookback_findings": "金丝雀回头看结论", "task_note": "金丝雀任务备注"}
# By producer: what each must seal.
REPORT = {k: v for k, v in {**NAMES, **CONTACTS, **FREE_TEXT}.items()
          if k in ("student", "other_student", "guardian", "other_guardian", "reporter", "guardian_phone",
                   "guardian_email", "other_phone", "other_email", "location", "cause", "course", "measure")}
FOLLOW_UP = {k: FREE_TEXT[k] for k in ("follow_up_facts", "follow_up_measure", "task_note")}
HELP = {"help_requester": NAMES["help_requester"], "help_phone": CONTACTS["help_phone"],
        "help_message": FREE_TEXT["help_message"], "help_reply": FREE_TEXT["help_reply"]}
ACT = {k: FREE_TEXT[k] for k in ("act_reason", "lookback_findings")}
# Channel credentials and officials' addresses from deploy/directory.toml: notify resolves them itself.
ROBOTS = {"bureau_robot": "demo-bureau-robot", "school_robot": "demo-school-robot",
          "bureau_email": "bureau-duty@edu.example.cn", "police_phone": "+8613800000002"}


def _report() -> dict[str, Any]:
    body = copy.deepcopy(SEVERE_EXAMPLE)
    body.update(location=FREE_TEXT["location"], cause=FREE_TEXT["cause"], course=FREE_TEXT["course"],
                measures_taken=[FREE_TEXT["measure"]], reporter={"name": NAMES["reporter"], "role": "值日教师"})
    victim, perpetrator = body["students"][0], body["students"][1]
    victim["name"] = NAMES["student"]
    victim["guardians"] = [{"name": NAMES["guardian"], "relation": "父亲", "phone": CONTACTS["guardian_phone"],
                            "email": CONTACTS["guardian_email"]}]
    perpetrator["name"] = NAMES["other_student"]
    perpetrator["guardians"] = [{"name": NAMES["other_guardian"], "relation": "母亲",
                                 "phone": CONTACTS["other_phone"], "email": CONTACTS["other_email"]}]
    return body


def _forms(value: str) -> list[bytes]:
    """The value as it can appear in a message: UTF-8, or JSON's \\u escapes."""
    return sorted({value.encode(), json.dumps(value)[1:-1].encode()})


class Capture:
    """Every message seen live on `ab.>` and every message stored in a stream after the flow."""

    def __init__(self) -> None:
        self.live: list[tuple[str, bytes]] = []
        self.stored: list[tuple[str, bytes]] = []
        self.types: list[str] = []

    def leaks(self, canaries: dict[str, str]) -> list[tuple[str, str, str]]:
        found = []
        for where, messages in (("live", self.live), ("stored", self.stored)):
            for subject, data in messages:
                for label, value in canaries.items():
                    if any(form in data for form in _forms(value)):
                        found.append((where, subject, label))
        return sorted(set(found))


_CAPTURED: dict[str, Capture] = {}


async def _flow(settings: Settings, smtp_sink: SmtpSink) -> Capture:
    capture = Capture()
    spy = await nats.connect(settings.nats_url)

    async def seen(msg: Any) -> None:
        capture.live.append((msg.subject, bytes(msg.data)))

    await spy.subscribe("ab.>", cb=seen)
    try:
        async with AsyncExitStack() as stack:
            for running in (intake, escalation, notify, archive):
                await stack.enter_async_context(running(settings))  # type: ignore[operator]
            key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
            code = await add_access_code(settings.database_url, "demo-school")
            school = {"Authorization": f"Bearer {key}"}
            archive_api = f"http://127.0.0.1:{settings.archive_port}"
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as api, \
                    httpx.AsyncClient(base_url=archive_api, timeout=10) as arch:
                bureau = await official_headers(arch, settings.database_url, "canary-bureau")
                posted = await api.post("/v1/incidents", json=_report(),
                                        headers={**school, "Idempotency-Key": "canary-1"})
                assert posted.status_code == 202, posted.text
                incident_id = posted.json()["incident_id"]
                # the notices reach the guardians (by e-mail: no SMS provider is configured in tests)
                await eventually(lambda: _mailed(smtp_sink, {CONTACTS["guardian_email"], CONTACTS["other_email"]}),
                                 timeout_s=30)
                follow_up = copy.deepcopy(FOLLOW_UP_EXAMPLE_BODY)
                follow_up.update(facts_changed=FREE_TEXT["follow_up_facts"],
                                 measures_taken=[FREE_TEXT["follow_up_measure"]],
                                 # a task done with a note: the duty records it (DutyUpdated), sealed
                                 completed=[{"action": "counselling", "student_ref": "S-1042",
                                             "done_at": "2026-11-29T09:00:00+08:00", "note": FREE_TEXT["task_note"]}],
                                 counselling=[])
                r = await api.post(f"/v1/incidents/{incident_id}/follow-ups", json=follow_up,
                                   headers={**school, "Idempotency-Key": "canary-fu-1"})
                assert r.status_code == 202, r.text
                asked = await api.post("/v1/help-requests", json={
                    "access_code": code, "message": FREE_TEXT["help_message"], "urgent": False,
                    "requester": {"kind": "parent", "anonymous": False, "name": NAMES["help_requester"],
                                  "phone": CONTACTS["help_phone"]}})
                assert asked.status_code == 202, asked.text
                r = await api.post(f"/v1/help-requests/{asked.json()['case_code']}/replies",
                                   json={"text": FREE_TEXT["help_reply"]}, headers=school)
                assert r.status_code == 202, r.text

                async def recorded() -> bool:
                    got = await arch.get(f"/v1/incidents/{incident_id}", headers=bureau)
                    return got.status_code == 200

                await eventually(recorded, timeout_s=30)
                acted = await arch.post(f"/v1/cases/{incident_id}/acts", headers=bureau,
                                        json={"act": "add_note", "reason": FREE_TEXT["act_reason"]})
                assert acted.status_code == 202, acted.text
                # the school's first incident scheduled a look-back review: the bureau reports it done
                [scheduled] = [json.loads(d) for s, d in capture.live if s == LOOKBACK_SCHEDULED]
                done = await arch.post(f"/v1/cases/{scheduled['lookback_id']}/completion", headers=bureau,
                                       json={"findings": FREE_TEXT["lookback_findings"]})
                assert done.status_code == 202, done.text
                wanted = {INCIDENT_REPORTED, FOLLOW_UP_REPORTED, HELP_REQUESTED, HELP_MESSAGE_ADDED, OFFICIAL_ACTED,
                          NOTIFICATION_REQUESTED, NOTIFICATION_DELIVERED, ESCALATION_DECIDED, LOOKBACK_COMPLETED,
                          DUTY_UPDATED}

                async def all_seen() -> bool:
                    capture.types = [s.removesuffix(".urgent").removesuffix(".standard") for s, _ in capture.live]
                    return wanted <= set(capture.types)

                try:
                    await eventually(all_seen, timeout_s=30)
                except AssertionError:
                    raise AssertionError(f"never seen: {wanted - set(capture.types)}") from None

                async def noted() -> bool:  # the task's note reached the duty, as a sealed box
                    return any(b'"note_sealed":{' in d for s, d in capture.live if s == DUTY_UPDATED)

                await eventually(noted, timeout_s=30)
                await asyncio.sleep(1.0)  # the notices the follow-up and the act cause, and their outcomes
        for spec in STREAMS:
            capture.stored += [(m.subject, bytes(m.data)) for m in await stream_messages(settings.nats_url, spec.name)]
    finally:
        await spy.close()
    return capture


async def _mailed(sink: SmtpSink, to: set[str]) -> bool:
    return to <= {m["To"] for m in sink.messages}


async def _captured(settings: Settings, smtp_sink: SmtpSink) -> Capture:
    """The flow runs once per test session; every test below reads the same capture."""
    if "flow" not in _CAPTURED:
        _CAPTURED["flow"] = await _flow(settings, smtp_sink)
    return _CAPTURED["flow"]


async def test_the_flow_puts_every_kind_of_event_on_the_bus(settings: Settings, smtp_sink: SmtpSink) -> None:
    capture = await _captured(settings, smtp_sink)
    assert len(capture.live) >= 20 and len(capture.stored) >= 20
    # the canary search can fail: the report's school id and a student's ref do travel in clear
    assert capture.leaks({"school": "demo-school", "ref": "S-1042"})


async def test_no_channel_credentials_or_officials_addresses_in_events(settings: Settings,
                                                                        smtp_sink: SmtpSink) -> None:
    capture = await _captured(settings, smtp_sink)
    assert capture.leaks(ROBOTS) == []


async def test_no_name_contact_or_free_text_of_a_report_on_the_bus(settings: Settings, smtp_sink: SmtpSink) -> None:
    """Students', guardians' and the reporter's names, guardians' phones and e-mails, the location, cause,
    course and measures: sealed by intake (for the archive; each guardian for notify), carried on unread."""
    capture = await _captured(settings, smtp_sink)
    assert capture.leaks(REPORT) == []


async def test_no_free_text_of_a_follow_up_on_the_bus(settings: Settings, smtp_sink: SmtpSink) -> None:
    capture = await _captured(settings, smtp_sink)
    assert capture.leaks(FOLLOW_UP) == []


async def test_no_help_requester_or_message_on_the_bus(settings: Settings, smtp_sink: SmtpSink) -> None:
    capture = await _captured(settings, smtp_sink)
    assert capture.leaks(HELP) == []


async def test_no_officials_free_text_on_the_bus(settings: Settings, smtp_sink: SmtpSink) -> None:
    capture = await _captured(settings, smtp_sink)
    assert capture.leaks(ACT) == []


@pytest.mark.pure
def test_every_canary_is_checked() -> None:
    assert set(NAMES) | set(CONTACTS) | set(FREE_TEXT) == set(REPORT) | set(FOLLOW_UP) | set(HELP) | set(ACT)
