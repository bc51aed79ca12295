"""Real infrastructure for every integration test: a nats-server (JetStream) started per test on
a free loopback port, a fresh PostgreSQL database per test (DATABASE_URL's server, else an
embedded one), and an aiosmtpd SMTP server. All of it is stopped when the test ends."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from antibully.infra import EmbeddedPostgres, NatsServer, SmtpSink, create_database, drop_database, free_port
from shared.config import ROOT, Settings
from shared.crypto import new_key_b64


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
    url = await create_database(pg_base_url)
    try:
        yield url
    finally:
        await drop_database(pg_base_url, url)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log").start()
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


@pytest.fixture
def settings(nats_server: NatsServer, database: str, smtp_sink: SmtpSink) -> Settings:
    return Settings(
        nats_url=nats_server.url,
        database_url=database,
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        smtp_timeout_s=5.0,
        intake_host="127.0.0.1",
        intake_port=free_port(),
        archive_host="127.0.0.1",
        archive_port=free_port(),
        publish_timeout_s=1.0,
        max_deliver=4,
        directory_file=ROOT / "deploy" / "directory.toml",
        archive_data_key=new_key_b64(),
        intake_data_key=new_key_b64(),
        archive_read_token="test-archive-token",
    )
