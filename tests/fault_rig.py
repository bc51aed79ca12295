"""The fault suite's rig: the four services as processes against infrastructure a test can take away,
a steady stream of severe reports, and the counts that say whether anything was lost or doubled.

A severe report asks for 7 notices (3 guardians, the school, its counsellor, the bureau, the
police: e-mail only here), plus one look-back review for the school's first incident.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import nats

from antibully.cli import add_school
from antibully.infra import SmtpSink, database_url_as, free_port, wait_port
from services.archive import repository as archive_repo
from services.archive.chain import first_broken
from shared.bus import servers
from shared.config import ROOT
from shared.crypto import new_key_b64
from shared.subjects import DEAD_LETTERS
from tests.helpers import NATS_KEYS, ServiceProcesses, report

NOTICES_PER_REPORT = 7
SERVICES = ("intake", "escalation", "notify", "archive")
VERDICTS: list[str] = []  # every fault's counts, for the summary at the end of the test run (conftest)


def rig_env(nats_url: str, database_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    """Every service's environment: its own ports, fresh keys, e-mail only, quick redelivery after a crash."""
    notify_port = free_port()
    return {
        **os.environ,
        "NATS_URL": nats_url, "DATABASE_URL": database_url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
        "INTAKE_PORT": str(free_port()), "ARCHIVE_PORT": str(free_port()), "NOTIFY_PORT": str(notify_port),
        "ESCALATION_PORT": str(free_port()), "PUBLIC_BASE_URL": f"http://127.0.0.1:{notify_port}",
        "ARCHIVE_DATA_KEY": new_key_b64(), "INTAKE_DATA_KEY": new_key_b64(), "PSEUDONYM_KEY": new_key_b64(),
        "LINK_KEY": new_key_b64(), "NOTIFY_DATA_KEY": new_key_b64(), "DEAD_LETTER_KEY": new_key_b64(),
        "DIRECTORY_FILE": str(ROOT / "deploy" / "directory.toml"),
        "WECOM_WEBHOOK_BASE": "", "DINGTALK_WEBHOOK_BASE": "",  # no outside robots: e-mail only
        "LOG_LEVEL": "INFO", "ACK_WAIT_S": "10", "SMTP_TIMEOUT_S": "3", "DB_ACQUIRE_TIMEOUT_S": "5",
        **NATS_KEYS.env(),  # every service's seed (each reads its own) and the admin's, for the setup step
        # each service logs in as its own role (the `database` fixture migrated; trust auth)
        **{f"{s.upper()}_DATABASE_URL": database_url_as(database_url, f"antibully_{s}") for s in SERVICES},
        **extra,
    }


@dataclass
class Load:
    """What the school systems saw: every report, its first answer, and the incident ids finally accepted
    (a school system retries a 503 with the same Idempotency-Key, as intake asks it to)."""

    sent: int = 0
    accepted: list[str] = field(default_factory=list)
    first_answers: Counter[int] = field(default_factory=Counter)
    retries: int = 0


@dataclass
class Rig:
    env: dict[str, str]
    fleet: ServiceProcesses
    sink: SmtpSink
    key: str = ""
    load: Load = field(default_factory=Load)

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    async def start(self, names: tuple[str, ...] = SERVICES) -> None:
        """Start these services and wait for their HTTP edges; the demo school is registered once."""
        for name in names:
            self.fleet.start(name)
        for name in names:
            wait_port(int(self.env[f"{name.upper()}_PORT"]), timeout_s=60, proc=self.fleet.procs[name])
        if not self.key:
            self.key = await add_school(self.database_url, "demo-school", "乐昌市示范中学")

    async def post(self, n: int, per_s: float, tag: str, give_up_s: float = 300.0) -> None:
        """`n` severe reports at a steady rate (open loop: a slow answer does not slow the next report);
        each is retried after a 503 or a refused connection until it is accepted or `give_up_s` passes."""
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.env['INTAKE_PORT']}", timeout=15) as client:

            async def one(i: int) -> None:
                deadline = time.monotonic() + give_up_s
                first = True
                while time.monotonic() < deadline:
                    try:
                        r = await client.post("/v1/incidents", json=report(), headers={
                            "Authorization": f"Bearer {self.key}", "Idempotency-Key": f"{tag}-{i:05d}"})
                        status = r.status_code
                    except httpx.HTTPError:
                        status = 0
                    if first:
                        self.load.first_answers[status] += 1
                        first = False
                    if status == 202:
                        self.load.accepted.append(r.json()["incident_id"])
                        return
                    if status not in (0, 503):
                        return
                    self.load.retries += 1
                    await asyncio.sleep(5.0)

            tasks = []
            for i in range(n):
                self.load.sent += 1
                tasks.append(asyncio.create_task(one(i)))
                await asyncio.sleep(1 / per_s)
            await asyncio.gather(*tasks)

    async def ready(self, service: str) -> bool:
        port = self.env[f"{service.upper()}_PORT"]
        try:
            async with httpx.AsyncClient(timeout=3) as client:
                return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False


@dataclass
class Counts:
    """The verdict of one fault: everything accepted was decided, told and archived exactly once."""

    fault: str
    sent: int
    first_answers: dict[int, int]
    accepted: int
    decided: int
    notices_expected: int
    notices_delivered: int
    mails: int
    duplicates: int
    archived: dict[str, int]
    duty_events: int
    duties_unpublished: int
    duties_behind: int
    dead_letters: int
    broken_chains: int
    seconds: float

    def line(self) -> str:
        return (f"FAULT {self.fault}: reports sent {self.sent}, first answers {dict(self.first_answers)}, "
                f"accepted {self.accepted}, decided {self.decided}; "
                f"notices {self.notices_delivered}/{self.notices_expected} delivered ({self.mails} mails, "
                f"{self.duplicates} duplicates); archived {self.archived}; dead letters {self.dead_letters}; "
                f"broken chains {self.broken_chains}; settled in {self.seconds:.0f} s")


async def settle(rig: Rig, fault: str, timeout_s: float = 240.0) -> Counts:
    """Wait until every accepted report's notices are archived as delivered, then count everything."""
    accepted = rig.load.accepted
    expected = len(accepted) * NOTICES_PER_REPORT + (1 if accepted else 0)  # and one look-back review
    started = time.monotonic()
    conn = await asyncpg.connect(rig.database_url)
    try:
        while time.monotonic() - started < timeout_s:
            try:
                delivered = await conn.fetchval(
                    "SELECT count(*) FROM archive.recipients WHERE status = 'delivered'")
            except asyncpg.PostgresError:
                delivered = 0
            if delivered >= expected and await _duties_archived(conn):
                break
            await asyncio.sleep(1.0)
        await asyncio.sleep(3.0)  # let a straggling duplicate show itself
        seconds = time.monotonic() - started
        per_type = dict(await conn.fetch("SELECT event_type, count(*) FROM archive.entries GROUP BY event_type"))
        # every duty change escalation published (its outbox keeps the rows) is archived exactly once
        duty_events = await conn.fetchval("SELECT count(*) FROM escalation.outbox WHERE subject = 'ab.duty.updated'")
        unpublished = await conn.fetchval("SELECT count(*) FROM escalation.obligations"
                                          " WHERE version <> published_version")
        # ... and projected: the archive's duty is each obligation's latest version (nothing lost, none behind)
        behind = await conn.fetchval("SELECT count(*) FROM escalation.obligations o LEFT JOIN archive.duties d"
                                     " USING (obligation_id) WHERE d.version IS DISTINCT FROM o.version")
        decided = await conn.fetchval("SELECT count(DISTINCT incident_id) FROM escalation.decisions")
        delivered = await conn.fetchval("SELECT count(*) FROM archive.recipients WHERE status = 'delivered'")
        await conn.execute("SET search_path = archive")
        broken = 0
        for i in accepted:
            broken += first_broken(await archive_repo.entries(conn, uuid.UUID(i))) is not None  # type: ignore[arg-type]
    finally:
        await conn.close()
    mails = Counter(m["Message-ID"] for m in rig.sink.messages)
    return Counts(fault, rig.load.sent, dict(rig.load.first_answers), len(accepted), decided, expected, delivered,
                  sum(mails.values()), sum(n - 1 for n in mails.values()), per_type, duty_events, unpublished, behind,
                  await dead_letter_count(rig.env["NATS_URL"]), broken, seconds)


async def _duties_archived(conn: asyncpg.Connection) -> bool:
    """Every duty change escalation published has reached the archive (they follow the deliveries)."""
    try:
        return bool(await conn.fetchval(
            "SELECT (SELECT count(*) FROM escalation.outbox WHERE subject = 'ab.duty.updated')"
            " = (SELECT count(*) FROM archive.entries WHERE event_type = 'DutyUpdated')"))
    except asyncpg.PostgresError:
        return False


async def dead_letter_count(nats_url: str) -> int:
    nc = await nats.connect(servers(nats_url), connect_timeout=5)
    try:
        return int((await nc.jetstream().stream_info(DEAD_LETTERS.name)).state.messages)
    finally:
        await nc.close()


def assert_nothing_lost(c: Counts) -> None:
    print(f"\n{c.line()}")
    VERDICTS.append(c.line())
    n = c.accepted
    assert n > 0 and n == c.sent and c.decided == n, c
    assert c.notices_delivered == c.notices_expected and c.duplicates == 0, c
    assert c.mails == c.notices_expected, c
    assert c.archived == {"IncidentReported": n, "EscalationDecided": n, "LookBackScheduled": 1,
                          "NotificationRequested": c.notices_expected,
                          "NotificationDelivered": c.notices_expected, "DutyUpdated": c.duty_events}, c
    assert c.duties_unpublished == 0 and c.duties_behind == 0, c
    assert c.dead_letters == 0 and c.broken_chains == 0, c


def error_lines(logs: Path) -> list[str]:
    """Every ERROR a service logged (the fleet's log files), in either LOG_FORMAT."""
    return [f"{f.name}: {line}" for f in sorted(logs.glob("*.log"))
            for line in f.read_text(errors="replace").splitlines() if is_error(line)]


def is_error(line: str) -> bool:
    """A JSON line whose level is ERROR (or CRITICAL), or a text line with the level between spaces."""
    if line.startswith("{"):
        with contextlib.suppress(ValueError):
            return json.loads(line).get("level") in ("ERROR", "CRITICAL")
    return " ERROR " in line or " CRITICAL " in line
