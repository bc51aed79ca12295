"""E-mail through the existing SmtpMailer, behind the Channel interface.

The mailer's `on_accepted` hook (record before QUIT) has no place in `send()`; the caller
records after `send()` returns, which widens the window of an unknown outcome by one QUIT.
The Message-ID is derived from the idempotency key, so a resend is recognisable.
"""

from __future__ import annotations

import aiosmtplib

from services.notify.channels.base import OutboundMessage, PermanentError, SendResult, TransientError
from services.notify.mailer import PermanentFailure, SmtpMailer


def smtp_message_id(idempotency_key: str) -> str:
    """The same form notify's handlers use: `<notification-id@antibully.notify>`."""
    return f"<{idempotency_key}@antibully.notify>"


async def _nothing() -> None:
    return None


class SmtpChannel:
    kind = "email"
    provider = "smtp"

    def __init__(self, mailer: SmtpMailer) -> None:
        self._mailer = mailer

    async def send(self, message: OutboundMessage) -> SendResult:
        message_id = smtp_message_id(message.idempotency_key)
        try:
            await self._mailer.send(message.address, message.subject, message.text, message_id, _nothing)
        except PermanentFailure as exc:
            raise PermanentError(exc.code) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise TransientError(f"smtp_{exc.code}") from None
        except (aiosmtplib.SMTPException, OSError):
            # Includes timeouts and refused connections (aiosmtplib's are OSError/SMTPException).
            raise TransientError("smtp_unavailable") from None
        return SendResult(self.provider, message_id)
