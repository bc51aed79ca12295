"""A payload the contract refuses, with the real services: dead-lettered after its few attempts, listed
by the CLI without its content, and, once the consumers are upgraded to a release that accepts it,
replayed and handled exactly once (decided once, seven notices and the look-back, archived once).

The poison is realistic: a newer intake reports a category (性欺凌, "sexual") that the deployed
consumers' contract does not know yet. The upgrade is a copy of this code with that category added.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from antibully.infra import NatsServer, SmtpSink
from services.intake.reports import reported_event
from shared.config import ROOT
from shared.contracts import IncidentReport
from shared.subjects import DEAD_LETTERS, INCIDENT_REPORTED
from tests.fault_rig import Rig, assert_nothing_lost, rig_env, settle
from tests.helpers import ServiceProcesses, eventually, report, stream_messages

pytestmark = pytest.mark.timeout(300)

CHILD = "李小明"


def upgraded_release(where: Path) -> Path:
    """This code, with the contract's Category knowing "sexual": the consumers' next release."""
    for package in ("shared", "services", "antibully", "deploy"):
        shutil.copytree(ROOT / package, where / package, ignore=shutil.ignore_patterns("__pycache__"))
    contract = where / "shared" / "contracts" / "incident.py"
    source = contract.read_text(encoding="utf-8")
    patched = source.replace('    other = "other"\n', '    other = "other"\n    sexual = "sexual"\n', 1)
    assert patched != source
    contract.write_text(patched, encoding="utf-8")
    return where


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "antibully.cli", "dead-letters", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


async def test_refused_payload_is_dead_lettered_then_replayed_once_after_an_upgrade(
        tmp_path: Path, nats_server: NatsServer, database: str, smtp_sink: SmtpSink) -> None:
    env = rig_env(nats_server.url, database, smtp_sink.port, POISON_ATTEMPTS="3")
    logs = tmp_path / "logs"
    logs.mkdir()
    rig = Rig(env, ServiceProcesses(env, logs), smtp_sink)
    try:
        await rig.start()
        event = reported_event(IncidentReport.model_validate(report()), "newer-intake-1")
        body = json.loads(event.model_dump_json())
        body["rules"]["category"] = "sexual"
        nc = await nats.connect(nats_server.url)
        try:
            await nc.jetstream().publish(INCIDENT_REPORTED, json.dumps(body, ensure_ascii=False).encode(),
                                         headers={"Nats-Msg-Id": str(event.event_id)})
        finally:
            await nc.close()

        async def two_letters() -> list[object]:
            got = await stream_messages(nats_server.url, DEAD_LETTERS.name)
            return got if len(got) == 2 else []

        letters = await eventually(two_letters, timeout_s=60)
        assert sorted(m.subject for m in letters) == [f"ab.dlq.archive.{INCIDENT_REPORTED}",  # type: ignore[attr-defined]
                                                      f"ab.dlq.escalation.{INCIDENT_REPORTED}"]
        for m in letters:
            h = m.headers  # type: ignore[attr-defined]
            assert (h["Ab-Reason"], h["Ab-Attempts"], h["Ab-Body"]) == ("invalid_payload", "3", "sealed")
            assert "rules.category" in h["Ab-Detail"]
            assert CHILD.encode() not in m.data  # type: ignore[attr-defined]
        listed = cli(env, "list")
        assert "2 dead letter(s)" in listed and "invalid_payload" in listed and CHILD not in listed
        print("\n" + listed)

        release = upgraded_release(tmp_path / "release")
        for name in ("escalation", "notify", "archive"):
            assert rig.fleet.stop(name) == 0  # a clean SIGTERM
            rig.fleet.start(name, release=release)
        await rig.start(())
        replayed = cli(env, "replay", "--subject", INCIDENT_REPORTED)
        print(replayed)
        assert "2 of 2 replayed" in replayed and "already replayed" in replayed  # one copy for both consumers

        rig.load.sent, rig.load.accepted = 1, [str(event.incident_id)]
        counts = await settle(rig, "a refused payload, dead-lettered, replayed after an upgrade")
        assert_nothing_lost(counts)
        assert "0 dead letter(s)" in cli(env, "list")
    finally:
        rig.fleet.stop_all()
        rig.fleet.print_logs(15)
