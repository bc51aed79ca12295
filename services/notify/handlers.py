"""Notify's subscriber logic: one message per notification request, whatever JetStream redelivers.

The delivery row is committed as 'sending' (with a lease, so a second replica keeps off)
before anything goes out, and as 'sent' right after a channel accepted, with the
NotificationDelivered event in the same transaction. A redelivered request finds 'sent' and
stops. Only a crash between a provider's acceptance and that commit leaves the outcome unknown;
then the message is sent again with the same idempotency key (and for e-mail the same
Message-ID) and the resend is counted (`ambiguous_resends`), never hidden.

Which channel: the recipient's addresses (an office's from notify's own directory, contacts.py) in order of
preference, each kind through its
providers in order (failover.py). Only when all refuse is NotificationFailed published;
when some failure was transient, JetStream redelivers later, for as long as it takes. A send
that outlasts ack_wait keeps both its message (the consumer's heartbeat) and its lease here.
A notice for a throttled robot is parked ('queued') for the robot's next digest and its message
acked; the digest loop records it sent (robot_digest.py).
"""

from __future__ import annotations

import logging
import time
import uuid

import asyncpg
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry, Counter

from services.notify import repository
from services.notify.channels.base import OutboundMessage
from services.notify.contacts import ContactBook
from services.notify.failover import Address, Failover, Outcome, Status
from services.notify.links import LinkClaims, Links
from services.notify.robot_digest import RobotDigests
from services.notify.robot_text import digest_line
from services.notify.templates import FAMILY_ROLES, render, render_short
from shared.config import get_settings
from shared.consumer import Delivery
from shared.contracts import NotificationDelivered, NotificationFailed, NotificationRequested
from shared.contracts.base import derive_id
from shared.crypto import Sealer
from shared.failures import NotYet, backoff_s
from shared.health import Dependencies
from shared.ops_metrics import registry_counter
from shared.outbox import OutboxRelay, enqueue

log = logging.getLogger("antibully.notify")


def notice_aad(notification_id: uuid.UUID) -> bytes:
    return f"notice:{notification_id}".encode()


class NotifyHandlers:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, failover: Failover, registry: CollectorRegistry,
                 tracer: Tracer, lease_s: float, deps: Dependencies, links: Links | None = None,
                 public_base_url: str = "", link_ttl_s: int = 0, sealer: Sealer | None = None,
                 robots: RobotDigests | None = None, outcomes: Counter | None = None, console_url: str = "",
                 contacts: ContactBook | None = None) -> None:
        self.deps = deps
        self.contacts = contacts or ContactBook.from_settings(get_settings())
        self.console_url = console_url
        self.robots = robots
        self.sealer = sealer
        self.links = links
        self.public_base_url = public_base_url.rstrip("/")
        self.link_ttl_s = link_ttl_s
        self.pool = pool
        self.tracer = tracer
        self.relay = relay
        self.failover = failover
        self.lease_s = lease_s
        # one counter for the lanes' handlers together (a registry takes a name once)
        self.outcomes = outcomes if outcomes is not None else Counter(
            "antibully_notify_outcomes", "Notification outcomes", ["role", "outcome"], registry=registry)
        self.notices = registry_counter(registry, "antibully_notices", "Notices by channel (the one that took it, or "
                                        "the first tried) and outcome", ["channel", "outcome"])

    async def on_requested(self, req: NotificationRequested, delivery: Delivery) -> None:
        req = self.contacts.addressed(req)  # a guardian's sealed contact opened here, and only here
        role = req.recipient.role.value
        routes = [Address(a.kind.value, a.to) for a in self.contacts.routes(req.recipient)]
        first_kind = routes[0].kind if routes else "none"
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                attempt = await repository.begin_attempt(
                    conn, req.notification_id, req.incident_id, role, first_kind, self.lease_s
                )
        except repository.Leased:
            # another replica is sending it right now: look again once its lease may have run out
            raise NotYet(self.lease_s / 2, "another replica is sending it") from None
        if attempt.done:
            self.relay.kick()
            return
        # however long the failover round takes, the lease lasts (with JetStream's in_progress beside it)
        delivery.keep_alive(lambda: repository.extend_lease(self.pool, req.notification_id, self.lease_s))
        if attempt.ambiguous:
            self.outcomes.labels(role, "ambiguous_resend").inc()
            log.warning("notification %s: previous attempt ended unknown; sending again", req.notification_id)
        link = self._link(req)
        plain = render(req, console_url=self.console_url)
        # the link is there to confirm, or (for a family) to write back to the school
        wants_link = link and (req.facts.ack_required or req.recipient.role in FAMILY_ROLES)
        full = render(req, link, self.console_url) if wants_link else plain
        short = render_short(req, link)
        if link and self.sealer:
            # what the link's page shows: the notice itself, to the one holding the link
            sealed = self.sealer.seal(f"{plain.subject}\n\n{plain.body}".encode(), notice_aad(req.notification_id))
            async with self.pool.acquire() as conn:
                await repository.keep_notice(conn, req.notification_id, sealed)

        def compose(address: Address) -> OutboundMessage:
            if address.kind == "email":
                return OutboundMessage(address.value, full.subject, full.body, str(req.notification_id))
            return OutboundMessage(address.value, full.subject, short.text, str(req.notification_id),
                                   sms_params=short.params)

        with self.tracer.start_as_current_span("notify.send", attributes={"antibully.role": role}) as span:
            outcome = await self.failover.deliver(routes, compose)
            span.set_attribute("antibully.outcome", outcome.status.value)
            span.set_attribute("antibully.channel", f"{outcome.channel_kind}/{outcome.result.provider}"
                               if outcome.result else "none")
            span.set_attribute("antibully.tries", outcome.tries)
        if outcome.status == Status.delivered:
            await self._sent(req, outcome, attempt.attempts)
            return
        if outcome.status == Status.failed:
            await self._fail(req, "no_contact" if not routes else "all_refused", attempt.attempts, outcome)
            return
        if outcome.status == Status.parked and self.robots is not None:
            # a throttled robot: the notice joins the robot's next digest and its message is done here
            address = routes[outcome.attempts[-1].address_index]
            async with self.pool.acquire() as conn, conn.transaction():
                await self.robots.park(conn, req.notification_id, req.incident_id, role, address.kind, address.value,
                                       digest_line(short.params))
            self.outcomes.labels(role, "parked").inc()
            self.notices.labels(address.kind, "parked").inc()
            return
        async with self.pool.acquire() as conn:
            await repository.finish(conn, req.notification_id, "retry_wait", error=",".join(outcome.reasons)[:500])
        # A provider away is transient: retried for as long as it takes (the watchdog chases the duty meanwhile).
        hinted = [a.retry_after_s for a in outcome.attempts if a.retry_after_s is not None]
        self.notices.labels(first_kind, "retry").inc()
        log.warning("notification %s attempt %d not delivered, will retry: %s", req.notification_id,
                    attempt.attempts, ", ".join(outcome.reasons))
        raise NotYet(outcome.retry_after_s if hinted and outcome.retry_after_s else backoff_s(attempt.attempts))

    async def _sent(self, req: NotificationRequested, outcome: Outcome, attempts: int) -> None:
        assert outcome.result is not None and outcome.channel_kind is not None
        delivered = NotificationDelivered(
            event_id=derive_id("notification-delivered", req.notification_id), incident_id=req.incident_id,
            notification_id=req.notification_id, role=req.recipient.role, channel=outcome.channel_kind,
            attempts=attempts, provider=outcome.result.provider, fallbacks=list(outcome.reasons),
        )

        async def record() -> None:
            assert outcome.result is not None
            async with self.pool.acquire() as conn, conn.transaction():
                await repository.finish(conn, req.notification_id, "sent", message_id=outcome.result.message_id,
                                        channel=f"{outcome.channel_kind}/{outcome.result.provider}")
                await enqueue(conn, delivered)

        # It went out: the record must follow even if the database went away meanwhile, or it goes out twice.
        await self.deps.until_done("recording a sent notice", record)
        self.outcomes.labels(req.recipient.role.value, "sent").inc()
        self.notices.labels(outcome.channel_kind, "sent").inc()
        if outcome.reasons:
            self.outcomes.labels(req.recipient.role.value, "sent_after_failover").inc()
        self.relay.kick()

    def _link(self, req: NotificationRequested) -> str | None:
        """A signed, expiring link to the notice's page (where a reader who must confirm, confirms)."""
        if self.links is None:
            return None
        claims = LinkClaims(req.notification_id, req.facts.case_ref, int(time.time()) + self.link_ttl_s)
        return f"{self.public_base_url}/ack/{self.links.sign(claims)}"

    async def _fail(self, req: NotificationRequested, reason: str, attempts: int, outcome: Outcome) -> None:
        failed = NotificationFailed(
            event_id=derive_id("notification-failed", req.notification_id), incident_id=req.incident_id,
            notification_id=req.notification_id, role=req.recipient.role,
            channel=",".join(dict.fromkeys(a.kind for a in outcome.attempts)), reason=reason, attempts=attempts,
            tried=list(outcome.reasons),
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await repository.finish(conn, req.notification_id, "failed", error=reason)
            await enqueue(conn, failed)
        self.outcomes.labels(req.recipient.role.value, f"failed_{reason}").inc()
        self.notices.labels(outcome.attempts[0].kind if outcome.attempts else "none", "failed").inc()
        log.error("NOTIFICATION FAILED: %s role %s incident %s: %s", req.notification_id, req.recipient.role.value,
                  req.incident_id, reason)
        self.relay.kick()
