"""The bus is closed: no anonymous client; each service's NATS user may publish only its own events and
dead letters, read only its own consumers through its own inbox, and neither create, delete nor purge
anything. What it needs (JetStream publish with the stream expected and Nats-Msg-Id dedupe, fetch, ack,
nak with delay, in_progress) works; the table of grants matches what the services register; TLS is
verified against our CA. (The end-to-end tests run every service under these permissions too.)"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.errors import Error as NatsError

from antibully.infra import NatsServer
from antibully.nats_admin import make_certificates
from shared.bus import connect, setup_nats
from shared.bus_topology import ADMIN, SERVICES, TOPOLOGY, ConsumerSpec, authorization, consumers
from shared.config import Settings
from shared.contracts.registry import EVENTS
from shared.subjects import (
    CHANGE_APPROVED,
    DEAD_LETTERS,
    ESCALATION,
    ESCALATION_DECIDED,
    INCIDENT_REPORTED,
    NOTIFICATION_ACKNOWLEDGED,
    OFFICIALS,
    REPORTS,
    stream_for,
)
from tests.helpers import NATS_KEYS, stream_messages


class Violations:
    """What the server told a client it may not do (nats-py reports it to the error callback)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc).lower())

    async def wait_for(self, kind: str, subject: str, timeout_s: float = 5.0) -> None:
        want = f'permissions violation for {kind} to "{subject.lower()}"'
        for _ in range(int(timeout_s / 0.05)):
            if any(want in s for s in self.seen):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {want!r}; the server said {self.seen}")


@asynccontextmanager
async def as_user(settings: Settings, role: str) -> AsyncIterator[tuple[Client, Violations]]:
    violations = Violations()
    nc = await connect(settings, role, error_cb=violations.record, allow_reconnect=False)
    try:
        yield nc, violations
    finally:
        await nc.close()


# -- the table ---------------------------------------------------------------------------------


@pytest.mark.pure
def test_every_event_has_one_publisher_but_what_an_official_does_from_the_archive() -> None:
    publishers = {model: [s for s, g in TOPOLOGY.items() if model in g.publishes] for model in EVENTS}
    shared = {m.event_type: p for m, p in publishers.items() if len(p) != 1}
    # an official's account confirms a notice or discharges a duty through the archive; the bureau's screening
    # of a school files its rectifications as hazards (issue 16)
    assert shared == {"NotificationAcknowledged": ["notify", "archive"], "DutyDischarged": ["intake", "archive"],
                      "HazardReported": ["intake", "archive"]}


@pytest.mark.pure
def test_the_grants_are_exact_allow_lists() -> None:
    for service in SERVICES:
        perms = TOPOLOGY[service].permissions()
        assert perms["subscribe"] == {"allow": [f"_INBOX_{service}.>"]}
        allowed = perms["publish"]["allow"]
        assert not any(p.startswith(("$JS.API.STREAM.CREATE", "$JS.API.STREAM.DELETE", "$JS.API.STREAM.PURGE",
                                     "$JS.API.CONSUMER.CREATE", "$JS.API.CONSUMER.DURABLE", "$JS.API.CONSUMER.DELETE"))
                       for p in allowed), allowed
        assert not any(p in ("ab.>", ">", "$JS.>", "$JS.API.>") for p in allowed)
        for subject in allowed:  # each durable named is its own
            if subject.startswith(("$JS.API.CONSUMER.", "$JS.ACK.")):
                assert f".{service}-" in subject, subject
    durables = [c.durable for c in consumers()]
    assert len(durables) == len(set(durables))
    for c in consumers():
        assert stream_for(c.filter_subject).name == c.stream
    users = authorization({role: f"U{role}" for role in (*SERVICES, ADMIN)})["users"]
    assert [u for u in users if "permissions" not in u] == [{"nkey": f"U{ADMIN}"}]


def test_the_operators_commands_make_a_configuration_nats_server_accepts(tmp_path: Path) -> None:
    """`antibully nats-keys`, then `nats-auth --out` from those seeds: deploy/nats.conf with that include
    passes `nats-server -t`; without one of the seeds `nats-auth` refuses."""
    import argparse
    import os
    import subprocess

    from antibully.infra import NATS_CONF, nats_server_binary
    from antibully.nats_admin import run

    code, lines = run(argparse.Namespace(command="nats-keys"), Settings())
    seeds = {k.lower(): v for k, _, v in (line.partition("=") for line in lines if not line.startswith("#"))}
    assert code == 0 and len(seeds) == len(SERVICES) + 1
    out = tmp_path / "nats-auth.conf"
    assert run(argparse.Namespace(command="nats-auth", out=out), Settings(**seeds))[0] == 0
    (tmp_path / "nats.conf").write_text(NATS_CONF.read_text())
    checked = subprocess.run([nats_server_binary(), "-t", "-c", str(tmp_path / "nats.conf")], capture_output=True,
                             env={**os.environ, "NATS_JETSTREAM_KEY": "k" * 32}, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    assert run(argparse.Namespace(command="nats-auth", out=None),
               Settings(**{**seeds, "notify_nats_seed": ""}))[0] == 2


async def test_every_durable_a_service_registers_is_in_the_table(settings: Settings) -> None:
    """Run the four services: the durables each binds to are exactly its row of the table."""
    from services.archive.app import running as archive
    from services.escalation.app import running as escalation
    from services.intake.app import running as intake
    from services.notify.app import running as notify

    registered: dict[str, list[ConsumerSpec]] = {}
    async with AsyncExitStack() as stack:
        registered["intake"] = (await stack.enter_async_context(intake(settings))).consumers.registered
        registered["escalation"] = (await stack.enter_async_context(escalation(settings))).infra.consumers.registered
        registered["notify"] = (await stack.enter_async_context(notify(settings))).consumers.registered
        registered["archive"] = (await stack.enter_async_context(archive(settings))).consumers.registered
    assert {s: sorted(c.durable for c in bound) for s, bound in registered.items()} == \
        {s: sorted(c.durable for c in TOPOLOGY[s].consumers) for s in SERVICES}


async def test_a_service_waits_for_the_setup_step(settings: Settings, tmp_path: Path) -> None:
    """On a NATS where `nats-setup` has not run, intake does not start (it may create nothing), and
    goes on by itself once the setup step has made its streams and consumers."""
    from services.intake.app import running as intake

    bare = NatsServer(tmp_path / "bare", log_file=tmp_path / "bare.log", keys=NATS_KEYS).start()
    try:
        settings = settings.model_copy(update={"nats_url": bare.url})
        started = asyncio.Event()

        async def run() -> None:
            async with intake(settings):
                started.set()
                await asyncio.sleep(3600)

        task = asyncio.create_task(run())
        try:
            await asyncio.sleep(3)
            assert not started.is_set() and not task.done()
            await setup_nats(settings)
            await asyncio.wait_for(started.wait(), 10)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        bare.stop()


# -- refused -----------------------------------------------------------------------------------


async def test_an_anonymous_connection_is_refused(nats_server: NatsServer) -> None:
    with pytest.raises(NatsError, match=r"(?i)authorization violation"):
        await nats.connect(nats_server.client_url, allow_reconnect=False, max_reconnect_attempts=0,
                           connect_timeout=2)


async def test_a_wrong_key_is_refused(settings: Settings) -> None:
    from shared.nats_keys import new_seed

    stranger = settings.model_copy(update={"intake_nats_seed": new_seed()})
    with pytest.raises(NatsError, match=r"(?i)authorization violation"):
        await connect(stranger, "intake", allow_reconnect=False, max_reconnect_attempts=0)


@pytest.mark.parametrize(("service", "subject"), [
    ("notify", CHANGE_APPROVED),  # forge an official's approval to close a case
    ("escalation", NOTIFICATION_ACKNOWLEDGED),  # silence the police escalation
    ("intake", ESCALATION_DECIDED),
    ("archive", INCIDENT_REPORTED),  # forge a report
    ("intake", "ab.dlq.notify.x"),  # another's dead letters
])
async def test_a_service_may_not_publish_another_services_subject(settings: Settings, service: str,
                                                                  subject: str) -> None:
    async with as_user(settings, service) as (nc, violations):
        await nc.publish(subject, b"{}", headers={"Nats-Msg-Id": "forged"})
        await nc.flush()
        await violations.wait_for("publish", subject)
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await nc.jetstream().publish(subject, b"{}", timeout=1.0)
    stream = stream_for(subject).name
    assert [m.subject for m in await stream_messages(settings.nats_url, stream) if m.subject == subject] == []


@pytest.mark.parametrize(("service", "subject"), [
    ("intake", "ab.>"),  # every report live
    ("escalation", INCIDENT_REPORTED),  # a core subscription beside its consumer
    ("notify", "_INBOX_escalation.>"),  # another's replies and fetched messages
    ("archive", ">"),
])
async def test_a_service_may_not_subscribe_to_a_subject(settings: Settings, service: str, subject: str) -> None:
    async with as_user(settings, service) as (nc, violations):
        await nc.subscribe(subject)
        await nc.flush()
        await violations.wait_for("subscription", subject)


async def test_a_service_may_not_read_another_services_consumer(settings: Settings) -> None:
    """intake fetching escalation's IncidentReported consumer (reports with children's names) is refused,
    and so is binding to it by looking it up."""
    durable = "escalation-IncidentReported"
    async with as_user(settings, "intake") as (nc, violations):
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{REPORTS.name}.{durable}", b'{"batch": 1}',
                         reply="_INBOX_intake.steal")
        await nc.flush()
        await violations.wait_for("publish", f"$JS.API.CONSUMER.MSG.NEXT.{REPORTS.name}.{durable}")
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await nc.jetstream().consumer_info(REPORTS.name, durable, timeout=1.0)


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_may_delete_purge_or_create(settings: Settings, service: str) -> None:
    async with as_user(settings, service) as (nc, violations):
        js = nc.jetstream(timeout=1.0)
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await js.purge_stream(REPORTS.name)
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await js.delete_stream(DEAD_LETTERS.name)
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await js.add_stream(name="AB_MINE", subjects=["mine.>"])
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await js.delete_consumer(REPORTS.name, "escalation-IncidentReported")
        await violations.wait_for("publish", f"$JS.API.STREAM.PURGE.{REPORTS.name}")
        await violations.wait_for("publish", f"$JS.API.STREAM.DELETE.{DEAD_LETTERS.name}")
    admin = await nats.connect(settings.nats_url)
    try:
        assert (await admin.jetstream().stream_info(DEAD_LETTERS.name)).config.name == DEAD_LETTERS.name
        assert (await admin.jetstream().consumer_info(REPORTS.name, "escalation-IncidentReported")).name
    finally:
        await admin.close()


# -- allowed -----------------------------------------------------------------------------------


async def test_what_a_service_needs_works_under_its_permissions(settings: Settings) -> None:
    """escalation, as itself: JetStream publish with the stream expected and Nats-Msg-Id dedupe; a dead
    letter; stream info for the gauge; its own consumer fetched, kept alive (in_progress), nak'd with a
    delay, redelivered and acked. The server reports no violation."""
    admin = await nats.connect(settings.nats_url)
    try:
        await admin.jetstream().publish(INCIDENT_REPORTED, b"{}", headers={"Nats-Msg-Id": "r-1"})
    finally:
        await admin.close()
    async with as_user(settings, "escalation") as (nc, violations):
        js = nc.jetstream()
        first = await js.publish(ESCALATION_DECIDED, b"{}", stream=ESCALATION.name, headers={"Nats-Msg-Id": "d-1"})
        again = await js.publish(ESCALATION_DECIDED, b"{}", stream=ESCALATION.name, headers={"Nats-Msg-Id": "d-1"})
        assert (bool(first.duplicate), again.duplicate, again.seq) == (False, True, first.seq)
        assert (await js.publish("ab.dlq.escalation.ab.incident.reported", b"{}", stream=DEAD_LETTERS.name)).seq
        info = await js.stream_info(DEAD_LETTERS.name, subjects_filter="ab.dlq.escalation.>")
        assert info.state.subjects == {"ab.dlq.escalation.ab.incident.reported": 1}

        sub = await js.pull_subscribe_bind("escalation-IncidentReported", REPORTS.name,
                                           inbox_prefix=b"_INBOX_escalation.")
        [msg] = await sub.fetch(1, timeout=5)
        await msg.in_progress()
        await msg.nak(delay=0.5)
        with contextlib.suppress(nats.errors.TimeoutError):
            assert await sub.fetch(1, timeout=0.3) == []  # not before its delay
        [again_msg] = await sub.fetch(1, timeout=5)
        assert again_msg.metadata.num_delivered == 2
        await again_msg.ack_sync()
        await nc.flush()
        assert violations.seen == []
    assert [m.subject for m in await stream_messages(settings.nats_url, OFFICIALS.name)] == []


# -- TLS ---------------------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Any:
    ca, cert, key = make_certificates(tmp_path / "certs")
    server = NatsServer(tmp_path / "nats-tls", log_file=tmp_path / "nats-tls.log", keys=NATS_KEYS,
                        args=("--tls", "--tlscert", str(cert), "--tlskey", str(key))).start()
    try:
        yield server, ca
    finally:
        server.stop()


async def test_services_reach_nats_over_verified_tls(tls_server: tuple[NatsServer, Path], tmp_path: Path) -> None:
    server, ca = tls_server
    settings = Settings(nats_url=server.client_url, nats_tls_ca=str(ca), **NATS_KEYS.settings())
    await setup_nats(settings)  # the admin over TLS
    async with as_user(settings, "intake") as (nc, violations):
        assert nc.is_connected
        assert (await nc.jetstream().stream_info(REPORTS.name)).config.name == REPORTS.name
        assert violations.seen == []

    other_ca, _, _ = make_certificates(tmp_path / "other")  # a server certificate from another CA: refused
    with pytest.raises(ssl.SSLCertVerificationError):
        await connect(settings.model_copy(update={"nats_tls_ca": str(other_ca)}), "intake",
                      allow_reconnect=False, max_reconnect_attempts=0)
    with pytest.raises(Exception):  # noqa: B017 - without TLS the server does not talk at all
        await connect(settings.model_copy(update={"nats_tls_ca": ""}), "intake",
                      allow_reconnect=False, max_reconnect_attempts=0)
