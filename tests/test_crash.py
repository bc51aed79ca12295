"""SIGKILL escalation and notify (and once archive) while 50 reports flow; restart them; nothing lost,
nothing doubled.

The four services run as real processes. The killer strikes at fixed offsets while the
reports are posted and while the backlog drains, so crashes land mid-transaction,
between commit and publish, and between an SMTP send and its record.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from antibully.cli import add_school
from antibully.infra import SmtpSink, wait_port
from services.archive import repository as archive_repo
from services.archive.chain import first_broken
from shared.config import Settings
from tests.helpers import NATS_KEYS, ServiceProcesses, eventually, report

REPORTS = 50
MAILS_PER_REPORT = 7  # 3 guardians, the school, its counsellor, the bureau, the police (severe)


def fleet_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "NATS_URL": settings.nats_url, "DATABASE_URL": settings.database_url,
        "SMTP_HOST": settings.smtp_host, "SMTP_PORT": str(settings.smtp_port),
        "INTAKE_PORT": str(settings.intake_port), "ARCHIVE_PORT": str(settings.archive_port),
        "ESCALATION_PORT": str(settings.escalation_port),
        "ARCHIVE_DATA_KEY": settings.archive_data_key,
        "LOG_LEVEL": "WARNING", "ACK_WAIT_S": "8", "SMTP_TIMEOUT_S": "3",
        "DIRECTORY_FILE": str(settings.directory_file), "NOTIFY_PORT": str(settings.notify_port),
        "LINK_KEY": settings.link_key, "PUBLIC_BASE_URL": settings.public_base_url,
        "INTAKE_DATA_KEY": settings.intake_data_key, "PSEUDONYM_KEY": settings.pseudonym_key,
        "WECOM_WEBHOOK_BASE": "", "DINGTALK_WEBHOOK_BASE": "",  # no outside robots: e-mail only here
        **NATS_KEYS.env(),
    }


@pytest.fixture
def fleet(settings: Settings, tmp_path: Path) -> Iterator[ServiceProcesses]:
    """The four services as child processes, with their logs in the test's tmp dir."""
    fleet = ServiceProcesses(fleet_env(settings), tmp_path)
    try:
        yield fleet
    finally:
        fleet.stop_all()
        fleet.print_logs()


async def test_sigkill_escalation_and_notify_mid_flow(fleet: ServiceProcesses, settings: Settings,
                                                      smtp_sink: SmtpSink) -> None:
    for name in ("intake", "escalation", "notify", "archive"):
        fleet.start(name)
    wait_port(settings.intake_port, timeout_s=60, proc=fleet.procs["intake"])
    wait_port(settings.archive_port, timeout_s=60, proc=fleet.procs["archive"])
    key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")

    async def post_all() -> list[str]:
        ids = []
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=15) as client:
            for i in range(REPORTS):
                r = await client.post("/v1/incidents", json=report(),
                                      headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"crash-{i:04d}"})
                assert r.status_code == 202, r.text
                ids.append(r.json()["incident_id"])
                await asyncio.sleep(0.05)
        return ids

    async def killer() -> None:
        for delay, name in [(0.5, "escalation"), (0.6, "notify"), (0.8, "escalation"), (0.7, "notify"),
                            (0.5, "archive"), (1.0, "notify"), (0.4, "escalation"), (0.9, "notify")]:
            await asyncio.sleep(delay)
            fleet.kill(name)
            await asyncio.sleep(0.3)
            fleet.start(name)

    incident_ids, _ = await asyncio.gather(post_all(), killer())
    assert len(set(incident_ids)) == REPORTS
    expected_mails = REPORTS * MAILS_PER_REPORT + 1  # and the school's look-back review, to the bureau

    conn = await asyncpg.connect(settings.database_url)
    try:
        async def archived() -> bool:
            delivered = await conn.fetchval("SELECT count(*) FROM archive.recipients WHERE status = 'delivered'")
            return bool(delivered == expected_mails)

        await eventually(archived, timeout_s=180, interval_s=0.5)

        async def duties_archived() -> bool:
            """Every duty change escalation published is archived; the last ones follow the last deliveries
            (and a killed escalation's relay publishes its outbox only once it is back)."""
            return bool(await conn.fetchval(
                "SELECT (SELECT count(*) FROM escalation.outbox WHERE subject = 'ab.duty.updated')"
                " = (SELECT count(*) FROM archive.entries WHERE event_type = 'DutyUpdated')"
                " AND NOT EXISTS (SELECT 1 FROM escalation.obligations WHERE version <> published_version)"))

        await eventually(duties_archived, timeout_s=60, interval_s=0.5)
        await asyncio.sleep(1.0)  # let any straggling duplicate show itself
        per_type = dict(await conn.fetch("SELECT event_type, count(*) FROM archive.entries GROUP BY event_type"))
        duty_events = await conn.fetchval("SELECT count(*) FROM escalation.outbox WHERE subject = 'ab.duty.updated'")
        ambiguous = dict(await conn.fetch(
            "SELECT notification_id::text, ambiguous_resends FROM notify.deliveries WHERE ambiguous_resends > 0"))
        notification_ids = {str(r[0]) for r in await conn.fetch("SELECT notification_id FROM archive.recipients")}
        await conn.execute("SET search_path = archive")
        broken = [i for i in incident_ids if first_broken(await archive_repo.entries(conn, i)) is not None]  # type: ignore[arg-type]
    finally:
        await conn.close()

    # Every report archived exactly once, with its decision, requests and deliveries (and the one look-back).
    assert per_type == {"IncidentReported": REPORTS, "EscalationDecided": REPORTS, "LookBackScheduled": 1,
                        "NotificationRequested": expected_mails, "NotificationDelivered": expected_mails,
                        "DutyUpdated": duty_events}
    assert duty_events >= 2 * expected_mails  # each notice's duty opened, then delivered
    assert broken == []
    # Every e-mail sent; a second copy only where notify itself recorded an ambiguous resend
    # (a SIGKILL between the SMTP server's acceptance and the commit), with the same Message-ID.
    sent = Counter(m["Message-ID"] for m in smtp_sink.messages)
    assert {mid.strip("<>").split("@")[0] for mid in sent} == notification_ids
    doubles = {mid.strip("<>").split("@")[0]: n - 1 for mid, n in sent.items() if n > 1}
    assert all(doubles[n] <= ambiguous.get(n, 0) for n in doubles), (doubles, ambiguous)
    print(f"\ncrash test: {REPORTS} reports, kills {dict(fleet.kills)}, mails {sum(sent.values())} "
          f"for {len(sent)} notifications, ambiguous resends {sum(ambiguous.values())}, archive {per_type}")
