"""The SMTP channel (aiosmtplib) over a small pool of connections. Tells permanent refusals from
failures worth retrying.

Connecting, EHLO and QUIT cost three round trips per message when each message has its own
connection; a pooled connection carries many messages (`smtp_max_messages_per_connection`),
resetting the envelope (RSET) after a refusal, and is closed after `smtp_idle_s` unused. A
connection idle for longer than `smtp_noop_after_s`, or that the server has closed meanwhile,
is checked (NOOP) or replaced before use, so a stale one costs a reconnect, not a failed send.

Transport security (issue 14): `SMTP_SECURITY=starttls` upgrades each connection before anything
else is said and refuses to go on when the server does not offer STARTTLS (never sending in clear);
`tls` speaks TLS from the first byte (port 465). Certificates are verified (SMTP_TLS_CA_FILE for a
private CA). With SMTP_USERNAME and SMTP_PASSWORD the client logs in (AUTH), only over TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from shared.config import Settings

log = logging.getLogger("antibully.notify.smtp")
SECURITY_MODES = ("none", "starttls", "tls")


class TlsRequired(aiosmtplib.SMTPException):
    """TLS is required and the server does not offer it: nothing is sent in clear."""


@dataclass(frozen=True)
class SmtpSecurity:
    """How a connection is protected and authenticated. `none`: as the relay offers (a loopback relay)."""

    mode: str = "none"
    username: str = ""
    password: str = ""
    ca_file: str = ""

    def __post_init__(self) -> None:
        if self.mode not in SECURITY_MODES:
            raise ValueError(f"SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}")
        if self.username and self.mode == "none":
            raise ValueError("SMTP_USERNAME needs SMTP_SECURITY=starttls or tls: a password is never sent in clear")

    @classmethod
    def of(cls, settings: Settings) -> SmtpSecurity:
        return cls(settings.smtp_security, settings.smtp_username, settings.smtp_password, settings.smtp_tls_ca_file)


class PermanentFailure(Exception):
    """The server refused for good (5xx): retrying cannot help. `code` is safe to log."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class _Connection:
    client: aiosmtplib.SMTP
    messages: int = 0
    idle_since: float = 0.0
    usable: bool = False  # cleared while a transaction is open; set again when it ended cleanly
    expiry: asyncio.TimerHandle | None = field(default=None, repr=False)


class SmtpPool:
    """At most `size` connections, each used by one transaction at a time.

    `lease()` waits for a free slot and yields a connected client; a connection that ended its
    transaction cleanly goes back to the pool, any other is closed.
    """

    def __init__(self, host: str, port: int, timeout_s: float, *, size: int = 4, max_messages: int = 100,
                 idle_s: float = 30.0, noop_after_s: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 security: SmtpSecurity | None = None) -> None:
        self._security = security or SmtpSecurity()
        self._host = host
        self._port = port
        self._timeout = timeout_s
        self.size = max(1, size)
        self._max_messages = max(1, max_messages)
        self._idle_s = idle_s
        self._noop_after_s = noop_after_s
        self._clock = clock
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[_Connection] = []
        self._closing = False
        self.opened = 0  # connections made over the pool's life (tests and benchmarks read it)

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        return self._slots

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[_Connection]:
        async with self._semaphore():
            conn = await self._checkout()
            try:
                yield conn
            finally:
                self._checkin(conn)

    async def replace(self, conn: _Connection) -> None:
        """A fresh connection in place of one that broke, in the same slot (and the same object)."""
        _close(conn)
        fresh = await self._connect()
        conn.client, conn.messages, conn.usable = fresh.client, 0, True

    async def _checkout(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()  # the most recently used: least likely to be stale
            if conn.expiry is not None:
                conn.expiry.cancel()
                conn.expiry = None
            if not conn.client.is_connected:
                _close(conn)
                continue
            if self._clock() - conn.idle_since >= self._noop_after_s:
                try:
                    await conn.client.noop()
                except (aiosmtplib.SMTPException, OSError):
                    _close(conn)
                    continue
            return conn
        return await self._connect()

    async def _connect(self) -> _Connection:
        sec = self._security
        options: dict[str, object] = {"cert_bundle": sec.ca_file or None}
        if sec.mode == "tls":
            options["use_tls"] = True
        elif sec.mode == "starttls":
            options["start_tls"] = False  # upgraded below, after checking that the server offers it
        client = aiosmtplib.SMTP(hostname=self._host, port=self._port, timeout=self._timeout, **options)  # type: ignore[arg-type]
        try:
            await client.connect()
            if sec.mode == "starttls":
                await client.ehlo()
                if not client.supports_extension("starttls"):
                    log.error("the SMTP server offers no STARTTLS and SMTP_SECURITY=starttls: nothing is sent")
                    raise TlsRequired("the SMTP server offers no STARTTLS")
                await client.starttls()
            if sec.username:
                await client.login(sec.username, sec.password)
        except BaseException:
            client.close()
            raise
        self.opened += 1
        return _Connection(client, usable=True)

    def _checkin(self, conn: _Connection) -> None:
        if self._closing or not (conn.usable and conn.client.is_connected and conn.messages < self._max_messages):
            _close(conn)
            return
        conn.idle_since = self._clock()
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to schedule, close now
            conn.expiry = asyncio.get_running_loop().call_later(self._idle_s, self._expire, conn)
            self._idle.append(conn)
            return
        _close(conn)

    def _expire(self, conn: _Connection) -> None:
        if conn in self._idle:
            self._idle.remove(conn)
        _close(conn)

    async def aclose(self) -> None:
        """Close the idle connections; those in use close when their transaction ends."""
        self._closing = True
        idle, self._idle = self._idle, []
        for conn in idle:
            if conn.expiry is not None:
                conn.expiry.cancel()
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                await conn.client.quit(timeout=1.0)
            _close(conn)


def _close(conn: _Connection) -> None:
    if conn.expiry is not None:
        conn.expiry.cancel()
        conn.expiry = None
    conn.usable = False
    conn.client.close()


class SmtpMailer:
    channel = "email"

    def __init__(self, settings: Settings, pool: SmtpPool | None = None) -> None:
        self._from = settings.smtp_from
        self.batch_max = settings.smtp_batch_max
        self.pool = pool or SmtpPool(
            settings.smtp_host, settings.smtp_port, settings.smtp_timeout_s, size=settings.smtp_pool_size,
            max_messages=settings.smtp_max_messages_per_connection, idle_s=settings.smtp_idle_s,
            noop_after_s=settings.smtp_noop_after_s, security=SmtpSecurity.of(settings))

    def compose(self, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self._from
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        # Stable per notification: a resend after an ambiguous crash carries the same id,
        # so mail clients and our tests can recognise it.
        msg["Message-ID"] = message_id
        msg.set_content(body, charset="utf-8")
        return msg

    async def send(
        self, to: str, subject: str, body: str, message_id: str, on_accepted: Callable[[], Awaitable[None]]
    ) -> None:
        """Send, then run `on_accepted` as soon as the server has taken the message.

        The record is written before the connection goes back to the pool (and so before any
        other message uses it): the span in which a crash leaves the outcome unknown is the
        commit alone.
        """
        async with self.pool.lease() as conn:
            await self._transact(conn, self.compose(to, subject, body, message_id))
            await on_accepted()

    async def send_many(self, messages: list[EmailMessage],
                        on_each: Callable[[int, Exception | None], Awaitable[None]]) -> None:
        """Several messages over one connection, in order; `on_each(i, error)` right after each.

        A refusal (PermanentFailure, or a 4xx as SMTPResponseException) concerns its message only:
        the envelope is reset and the next goes over the same connection. A broken connection is
        replaced once for the rest; if that fails too, the rest get the error.
        """
        async with self.pool.lease() as conn:
            away: Exception | None = None
            for i, msg in enumerate(messages):
                if away is not None:
                    await on_each(i, away)
                    continue
                try:
                    if not conn.usable:
                        await self.pool.replace(conn)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    away = exc
                    await on_each(i, exc)
                    continue
                try:
                    await self._transact(conn, msg)
                except (PermanentFailure, aiosmtplib.SMTPException, OSError) as exc:
                    await on_each(i, exc)
                    continue
                await on_each(i, None)

    async def _transact(self, conn: _Connection, msg: EmailMessage) -> None:
        """A reused connection the server dropped while it was idle fails at its first command, before
        anything was accepted: the message goes once more over a fresh connection. (A drop later in
        the transaction is retried alike, with the same Message-ID, as failover's retry would be.)"""
        reused = conn.messages > 0
        try:
            await transact(conn, msg)
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
            if not reused:
                raise
            await self.pool.replace(conn)
            await transact(conn, msg)


async def transact(conn: _Connection, msg: EmailMessage) -> None:
    """One mail transaction on a pooled connection; raises PermanentFailure for a 5xx refusal.

    aiosmtplib resets the envelope (RSET) itself after a refused command; the connection stays
    usable then. Any other failure (a timeout, a disconnect, a cancel) leaves it unusable.
    """
    conn.usable = False
    try:
        await conn.client.send_message(msg)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        conn.usable = conn.client.is_connected
        raise PermanentFailure("smtp_recipient_refused") from exc
    except aiosmtplib.SMTPServerDisconnected:
        raise
    except aiosmtplib.SMTPResponseException as exc:
        conn.usable = conn.client.is_connected and exc.code != 421  # 421: the server is closing it
        if 500 <= exc.code < 600:
            raise PermanentFailure(f"smtp_{exc.code}") from exc
        raise
    conn.messages += 1
    conn.usable = True
