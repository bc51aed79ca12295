"""The SMTP channel (aiosmtplib). Tells permanent refusals from failures worth retrying."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from shared.config import Settings


class PermanentFailure(Exception):
    """The server refused for good (5xx): retrying cannot help. `code` is safe to log."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class SmtpMailer:
    channel = "email"

    def __init__(self, settings: Settings) -> None:
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._from = settings.smtp_from
        self._timeout = settings.smtp_timeout_s

    async def send(
        self, to: str, subject: str, body: str, message_id: str, on_accepted: Callable[[], Awaitable[None]]
    ) -> None:
        """Send, then run `on_accepted` as soon as the server has taken the message.

        The record is written before QUIT: the span in which a crash leaves the outcome
        unknown is the commit alone, not another round trip to the server.
        """
        msg = EmailMessage()
        msg["From"] = self._from
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        # Stable per notification: a resend after an ambiguous crash carries the same id,
        # so mail clients and our tests can recognise it.
        msg["Message-ID"] = message_id
        msg.set_content(body, charset="utf-8")
        client = aiosmtplib.SMTP(hostname=self._host, port=self._port, timeout=self._timeout)
        try:
            await client.connect()
            await client.send_message(msg)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            client.close()
            raise PermanentFailure("smtp_recipient_refused") from exc
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"smtp_{exc.code}") from exc
            raise
        except BaseException:
            client.close()
            raise
        try:
            await on_accepted()
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
