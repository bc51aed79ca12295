"""E-mail through the pooled SmtpMailer, behind the Channel and BatchChannel interfaces.

`send()` returns as soon as the server took the message; its connection goes back to the
pool without a QUIT, so the caller's record follows the acceptance by no extra round trip.
`send_batch()` sends several messages over one connection, each with its own outcome.
The Message-ID is derived from the idempotency key, so a resend is recognisable.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosmtplib

from services.notify.channels.base import (
    ChannelError,
    OutboundMessage,
    PermanentError,
    SendResult,
    TransientError,
)
from services.notify.mailer import PermanentFailure, SmtpMailer, TlsRequired


def smtp_message_id(idempotency_key: str) -> str:
    """The same form notify's handlers use: `<notification-id@antibully.notify>`."""
    return f"<{idempotency_key}@antibully.notify>"


async def _nothing() -> None:
    return None


def channel_error(exc: BaseException) -> ChannelError:
    """A mailer failure as the channel's error kind (codes only: never an address)."""
    if isinstance(exc, PermanentFailure):
        return PermanentError(exc.code)
    if isinstance(exc, TlsRequired):
        return TransientError("smtp_tls_required")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return TransientError(f"smtp_{exc.code}")
    # timeouts, refused or dropped connections (aiosmtplib's are OSError/SMTPException)
    return TransientError("smtp_unavailable")


class SmtpChannel:
    kind = "email"
    provider = "smtp"

    def __init__(self, mailer: SmtpMailer, max_batch: int | None = None) -> None:
        self._mailer = mailer
        self.max_batch = max_batch or mailer.batch_max

    async def aclose(self) -> None:
        """Close the pool's idle connections (at shutdown; those in use close when they finish)."""
        await self._mailer.pool.aclose()

    async def send(self, message: OutboundMessage) -> SendResult:
        message_id = smtp_message_id(message.idempotency_key)
        try:
            await self._mailer.send(message.address, message.subject, message.text, message_id, _nothing)
        except (PermanentFailure, aiosmtplib.SMTPException, OSError) as exc:
            raise channel_error(exc) from None
        return SendResult(self.provider, message_id)

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ChannelError]:
        """In order over one pooled connection; a refused recipient fails only its own message.

        A connection that cannot be had at all is raised (TransientError) for the whole batch.
        """
        results: list[SendResult | ChannelError] = [TransientError("smtp_unavailable")] * len(messages)
        ids = [smtp_message_id(m.idempotency_key) for m in messages]
        mails = [self._mailer.compose(m.address, m.subject, m.text, mid) for m, mid in zip(messages, ids, strict=True)]

        async def on_each(i: int, error: Exception | None) -> None:
            results[i] = SendResult(self.provider, ids[i]) if error is None else channel_error(error)

        try:
            await self._mailer.send_many(mails, on_each)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise channel_error(exc) from None
        return results
