"""Real infrastructure for every integration test: a nats-server (JetStream) started per test on
a free loopback port, a fresh PostgreSQL database per test (DATABASE_URL's server, else an
embedded one), and an aiosmtpd SMTP server. All of it is stopped when the test ends."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from antibully.infra import (
    EmbeddedPostgres,
    NatsServer,
    SmtpSink,
    create_database,
    database_url_as,
    drop_database,
    free_port,
)
from shared.assertions import public_key_b64
from shared.bus import setup_nats
from shared.bus_seal import new_private_key_b64
from shared.bus_seal import public_key_b64 as bus_public_key
from shared.config import DB_SERVICES, ROOT, Settings
from shared.crypto import new_key_b64
from tests.helpers import NATS_KEYS

pytest_plugins = ["tests.console_rig"]

# The bus's sealing keys, one pair per reader for the whole session, also in the environment: an event a test
# builds with the intake's helpers (get_settings) is sealed for the same readers the services run with.
BUS_KEYS = {f"{reader}_bus_private_key": new_private_key_b64() for reader in ("archive", "notify")}
BUS_KEYS |= {f"{reader}_bus_public_key": bus_public_key(BUS_KEYS[f"{reader}_bus_private_key"])
             for reader in ("archive", "notify")}
for _name, _value in BUS_KEYS.items():
    os.environ.setdefault(_name.upper(), _value)
BUS_KEYS = {name: os.environ[name.upper()] for name in BUS_KEYS}


@pytest.fixture(scope="session")
def pg_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    try:
        yield pg.url
    finally:
        pg.stop()


@pytest.fixture
async def database(pg_base_url: str) -> AsyncIterator[str]:
    """A fresh database, migrated (`antibully migrate`: the service roles, schemas and grants)."""
    from antibully.migrate import migrate_database

    url = await create_database(pg_base_url)
    try:
        await migrate_database(Settings(database_url=url))
        yield url
    finally:
        await drop_database(pg_base_url, url)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log", keys=NATS_KEYS).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@dataclass
class Intake:
    """A running intake, an HTTP client for it and the demo school's key."""

    client: httpx.AsyncClient
    key: str
    settings: Settings

    def headers(self, idem: str = "idem-0001", key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}", "Idempotency-Key": idem}

    def csv_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "text/csv; charset=utf-8"}


@pytest.fixture
async def intake(settings: Settings) -> AsyncIterator[Intake]:
    from antibully.cli import add_school
    from services.intake.app import running

    async with running(settings):
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as client:
            yield Intake(client, key, settings)


IDENTITY_SEED = new_key_b64()  # the archive's identity-assertion key, one per test session


@pytest.fixture
async def settings(nats_server: NatsServer, database: str, smtp_sink: SmtpSink) -> Settings:
    """Every service's settings: each runs as its own NATS user (its seed; the URL's admin credentials
    are for the tests' raw clients), after the setup step made the streams and consumers."""
    notify_port = free_port()
    settings = Settings(
        notify_host="127.0.0.1",
        notify_port=notify_port,
        public_base_url=f"http://127.0.0.1:{notify_port}",
        link_key=new_key_b64(),
        notify_data_key=new_key_b64(),
        nats_url=nats_server.url,
        database_url=database,  # the admin: the CLI's functions and tests' own look-ups
        # each service logs in as its own role (antibully migrate made them; trust auth, no password)
        **{f"{s}_database_url": database_url_as(database, f"antibully_{s}") for s in DB_SERVICES},
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        smtp_timeout_s=5.0,
        intake_host="127.0.0.1",
        intake_port=free_port(),
        archive_host="127.0.0.1",
        archive_port=free_port(),
        escalation_port=free_port(),
        publish_timeout_s=1.0,
        poison_attempts=3,
        directory_file=ROOT / "deploy" / "directory.toml",
        archive_data_key=new_key_b64(),
        intake_data_key=new_key_b64(),
        pseudonym_key=new_key_b64(),
        identity_signing_key=IDENTITY_SEED,
        identity_public_key=public_key_b64(IDENTITY_SEED),
        **BUS_KEYS,
        # no outside robots from tests: only what a test configures against the local fakes
        wecom_webhook_base="",
        dingtalk_webhook_base="",
        **NATS_KEYS.settings(),
    )
    await setup_nats(settings)
    return settings


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault suite's counts (reports, decisions, notices, archive, duplicates, dead letters) at the end."""
    from tests.fault_rig import VERDICTS

    if VERDICTS:
        terminalreporter.section("fault suite: what each fault cost")
        for line in VERDICTS:
            terminalreporter.write_line(line)
