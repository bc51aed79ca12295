"""Small helpers the integration tests share: polling, reading streams, sample reports (and, re-exported,
the services as child processes: `ServiceProcesses`)."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import nats
from nats.aio.msg import Msg

from antibully.processes import ServiceProcesses as ServiceProcesses  # re-exported: the tests start services
from services.intake.examples import SEVERE_EXAMPLE
from shared.config import ROOT
from shared.contracts.base import Event, utcnow
from shared.nats_keys import NatsKeys

T = TypeVar("T")

# The NATS users' seeds of every test server this session (conftest's `nats_server`, the rigs' services).
NATS_KEYS = NatsKeys.generate()


async def eventually(probe: Callable[[], Awaitable[T]], timeout_s: float = 20.0, interval_s: float = 0.1) -> T:
    """Poll until the probe returns something truthy; fail with its last answer otherwise."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s; last value: {last!r}")


async def stream_messages(nats_url: str, stream: str) -> list[Msg]:
    """Every message currently stored in a stream, in order (read directly, no consumer)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if info.state.messages == 0:
                break
            raw = await js.get_msg(stream, seq)
            out.append(Msg(nc, subject=raw.subject or "", data=raw.data or b"", headers=raw.headers))
        return out
    finally:
        await nc.close()


async def publish(nats_url: str, event: Event, msg_id: str | None = None) -> None:
    """Publish as a producing service would; another msg id bypasses the server's dedupe window."""
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(
            event.routing_subject, event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": msg_id or str(event.event_id)},
        )
    finally:
        await nc.close()


def report(**changes: Any) -> dict[str, Any]:
    """The README's severe example, with top-level or indicator fields changed."""
    body = copy.deepcopy(SEVERE_EXAMPLE)
    for key, value in changes.items():
        if key in body["indicators"]:
            body["indicators"][key] = value
        else:
            body[key] = value
    return body


def default_policy() -> Any:
    """The policy file the system ships with."""
    from services.escalation.policy import parse_policy

    path = ROOT / "deploy" / "policy" / "default.toml"
    return parse_policy(path.read_text(encoding="utf-8"), str(path))


def decide_report(body: dict[str, Any], hours_after_discovery: float = 1.0) -> Any:
    """The default policy's decision on a report dict, reported some hours after discovery."""
    from datetime import timedelta

    from services.escalation.domain import decide
    from shared.contracts import IncidentReport

    report_ = IncidentReport.model_validate(body)
    return decide(report_, default_policy(), report_.discovered_at + timedelta(hours=hours_after_discovery))


async def exactly(items: Awaitable[list[T]], n: int) -> list[T] | None:
    """For `eventually`: the list once it has n items; fails at once if it ever has more."""
    got = await items
    assert len(got) <= n, got
    return got if len(got) == n else None


async def owner_connection(settings: Any, schema: str = "archive") -> Any:
    """A connection as the login role (the tables' owner; a superuser in tests), not the service's role."""
    import asyncpg

    return await asyncpg.connect(settings.database_url, server_settings={"search_path": schema})


async def tamper(conn: Any, sql: str, *args: Any, table: str = "entries") -> None:
    """What a superuser can do: switch off a table's append-only triggers, change it, switch them on again."""
    async with conn.transaction():
        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        await conn.execute(sql, *args)
        await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


PASSWORD = "correct horse battery staple"


async def official_headers(client: Any, database_url: str, account: str, role: str = "bureau",
                           jurisdiction: str = "lechang", school: str | None = None,
                           purpose: str = "test reading", title: str | None = None) -> dict[str, str]:
    """Create an official's account, log in on archive's API, return its bearer and purpose headers."""
    from antibully.officials import add_official

    await add_official(database_url, account, role=role, jurisdiction=jurisdiction, name=account,
                       password=PASSWORD, school_id=school, title=title)
    r = await client.post("/v1/auth/token", json={"username": account, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}", "X-Access-Purpose": purpose}


def directory_with_more_schools(tmp_path: Path) -> Path:
    """The shipped directory, another school of the same jurisdiction and one of another."""
    path = tmp_path / "directory.toml"
    path.write_text((ROOT / "deploy" / "directory.toml").read_text(encoding="utf-8") + """
[schools.second-school]
name = "乐昌市第二中学"
email = "principal@second-school.example.cn"

[schools.far-school]
name = "仁化县第一中学"
email = "principal@far-school.example.cn"
jurisdiction = "renhua"
""", encoding="utf-8")
    return path


class MovedClock:
    """A service's clock, moved by the test: token expiry and locks without sleeping."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def as_notify(request: Any) -> Any:
    """A NotificationRequested as notify reads it: a guardian's sealed contact opened (name, addresses, child)."""
    from services.notify.contacts import ContactBook
    from shared.config import get_settings

    return ContactBook.from_settings(get_settings()).addressed(request)


async def publish_started(database_url: str, nats_url: str, event: Any, timeout_s: float = 30.0) -> None:
    """Publish a CampaignStarted (campaign_filing.started_event) and wait until the archive has projected it: only
    then does filing a record for its schools pass the started check (else 409 campaign_not_started)."""
    import asyncpg

    await publish(nats_url, event)
    conn = await asyncpg.connect(database_url)
    try:
        async def projected() -> bool:
            return bool(await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM archive.campaigns WHERE campaign_id = $1 AND jurisdiction = $2)",
                event.campaign_id, event.jurisdiction))

        await eventually(projected, timeout_s=timeout_s)
    finally:
        await conn.close()
