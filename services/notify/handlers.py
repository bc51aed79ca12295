"""Notify's subscriber logic: one mail per notification request, whatever JetStream redelivers.

The delivery row is committed as 'sending' before the mail goes out and as 'sent' right
after, with the NotificationDelivered event in the same transaction. A redelivered request
finds 'sent' and stops. Only a crash between the SMTP server's acceptance and that commit
leaves the outcome unknown; then the mail is sent again with the same Message-ID and the
resend is counted (`ambiguous_resends`), never hidden.
"""

from __future__ import annotations

import logging
import time

import asyncpg
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry, Counter

from services.notify import repository
from services.notify.links import LinkClaims, Links
from services.notify.mailer import PermanentFailure, SmtpMailer
from services.notify.templates import render
from shared.bus import Delivery, safe_error
from shared.contracts import NotificationDelivered, NotificationFailed, NotificationRequested
from shared.contracts.base import derive_id
from shared.outbox import OutboxRelay, enqueue

log = logging.getLogger("antibully.notify")


def message_id_for(req: NotificationRequested) -> str:
    return f"<{req.notification_id}@antibully.notify>"


class NotifyHandlers:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, mailer: SmtpMailer, registry: CollectorRegistry,
                 tracer: Tracer, lease_s: float, links: Links | None = None, public_base_url: str = "",
                 link_ttl_s: int = 0) -> None:
        self.links = links
        self.public_base_url = public_base_url.rstrip("/")
        self.link_ttl_s = link_ttl_s
        self.pool = pool
        self.tracer = tracer
        self.relay = relay
        self.mailer = mailer
        self.lease_s = lease_s
        self.outcomes = Counter("antibully_notify_outcomes", "Notification outcomes", ["role", "outcome"],
                                registry=registry)

    async def on_requested(self, req: NotificationRequested, delivery: Delivery) -> None:
        role = req.recipient.role.value
        async with self.pool.acquire() as conn, conn.transaction():
            attempt = await repository.begin_attempt(
                conn, req.notification_id, req.incident_id, role, self.mailer.channel, self.lease_s
            )
        if attempt.done:
            self.relay.kick()
            return
        if req.recipient.email is None:
            await self._fail(req, "no_contact", attempt.attempts)
            return
        if attempt.ambiguous:
            self.outcomes.labels(role, "ambiguous_resend").inc()
            log.warning("notification %s: previous attempt ended unknown; sending again", req.notification_id)
        text = render(req, self._ack_url(req))
        accepted = False

        async def record_sent() -> None:
            nonlocal accepted
            accepted = True
            delivered = NotificationDelivered(
                event_id=derive_id("notification-delivered", req.notification_id), incident_id=req.incident_id,
                notification_id=req.notification_id, role=req.recipient.role, channel=self.mailer.channel,
                attempts=attempt.attempts,
            )
            async with self.pool.acquire() as conn, conn.transaction():
                await repository.finish(conn, req.notification_id, "sent", message_id=message_id_for(req))
                await enqueue(conn, delivered)

        try:
            with self.tracer.start_as_current_span(
                "notify.send", attributes={"antibully.role": role, "antibully.channel": self.mailer.channel}
            ):
                await self.mailer.send(req.recipient.email, text.subject, text.body, message_id_for(req), record_sent)
        except PermanentFailure:
            await self._fail(req, "smtp_rejected", attempt.attempts)
            return
        except Exception as exc:
            if accepted:
                # Sent but not recorded: the row stays 'sending', so the retry counts as ambiguous.
                raise
            async with self.pool.acquire() as conn:
                await repository.finish(conn, req.notification_id, "retry_wait", error=type(exc).__name__)
            if delivery.final:
                await self._fail(req, "retries_exhausted", attempt.attempts)
                return
            log.warning("notification %s attempt %d failed: %s", req.notification_id, attempt.attempts,
                        safe_error(exc))
            raise
        self.outcomes.labels(role, "sent").inc()
        self.relay.kick()

    def _ack_url(self, req: NotificationRequested) -> str | None:
        """A signed, expiring link for a notice whose reader must confirm receipt."""
        if not (req.facts.ack_required and self.links):
            return None
        claims = LinkClaims(req.notification_id, req.facts.case_ref, int(time.time()) + self.link_ttl_s)
        return f"{self.public_base_url}/ack/{self.links.sign(claims)}"

    async def _fail(self, req: NotificationRequested, reason: str, attempts: int) -> None:
        failed = NotificationFailed(
            event_id=derive_id("notification-failed", req.notification_id), incident_id=req.incident_id,
            notification_id=req.notification_id, role=req.recipient.role, channel=self.mailer.channel,
            reason=reason, attempts=attempts,
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await repository.finish(conn, req.notification_id, "failed", error=reason)
            await enqueue(conn, failed)
        self.outcomes.labels(req.recipient.role.value, f"failed_{reason}").inc()
        log.error("NOTIFICATION FAILED: %s role %s incident %s: %s", req.notification_id, req.recipient.role.value,
                  req.incident_id, reason)
        self.relay.kick()
