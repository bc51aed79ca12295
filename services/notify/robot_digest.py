"""Robots digest instead of queueing (issue 12).

A WeCom/DingTalk robot takes 20 messages a minute. A robot notice goes out at once while the robot
has a token (shared across replicas, limits.py) and nothing waits for it; otherwise the notice is
parked: its line and the robot's address sealed in `robot_queue`, its delivery row 'queued', its
message acked (handlers.py). This loop, on every replica, leases a robot's waiting notices (SKIP
LOCKED), takes the robot's next token, sends ONE message listing the oldest that fit, and in one
transaction marks each of them sent and enqueues its NotificationDelivered (the same message id for
all). A crash between the robot's acceptance and that commit sends the digest again once its lease
runs out, counted in `ambiguous_resends` as for any other send.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Protocol

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from services.notify import repository_lanes
from services.notify.channels.base import ChannelError, OutboundMessage, SendResult, TransientError
from services.notify.channels.ratelimit import Park, RateLimited
from services.notify.limits import SharedKeyed
from services.notify.robot_text import MAX_BYTES, first_digest
from shared.bus import safe_error
from shared.contracts import NotificationDelivered, NotificationFailed, RecipientRole
from shared.contracts.base import derive_id
from shared.crypto import Sealer
from shared.db import Conn
from shared.health import Dependencies
from shared.outbox import OutboxRelay, enqueue

log = logging.getLogger("antibully.notify.robots")
CLAIM_AT_MOST = 500
UNKNOWN_OUTCOME = frozenset({"timeout", "network"})  # _http.send_request: the robot may have taken it


class Robot(Protocol):
    kind: str
    provider: str

    def robot_id(self, address: str) -> str: ...

    async def post(self, message: OutboundMessage) -> SendResult: ...


def queue_aad(notification_id: uuid.UUID) -> bytes:
    return f"robot-queue:{notification_id}".encode()


class DigestRobot:
    """The robot as failover sees it: sends while the robot has a token and no backlog, else `Park`
    (or, with no sealing key to keep a parked address, `RateLimited`)."""

    def __init__(self, robot: Robot, limiter: SharedKeyed, *, can_park: bool) -> None:
        self.robot = robot
        self.kind = robot.kind
        self.provider = robot.provider
        self.limiter = limiter
        self.can_park = can_park

    def key(self, address: str) -> str:
        return self.limiter.key(self.robot.robot_id(address))

    async def send(self, message: OutboundMessage) -> SendResult:
        key = self.key(message.address)
        if self.can_park:
            async with self.limiter.limits.pool.acquire() as conn:
                if await repository_lanes.robot_waiting(conn, key):
                    raise Park()  # behind the others: it goes in their digest
        wait = await self.limiter.limits.take(key, self.limiter.rate_per_s, self.limiter.burst)
        if wait > 0:
            raise Park(wait) if self.can_park else RateLimited(wait)
        try:
            return await self.robot.post(message)
        except TransientError as exc:
            await self.hold(key, exc)
            raise

    async def hold(self, key: str, exc: TransientError) -> None:
        """The robot asked for a pause (DingTalk mutes for 10 minutes): no replica calls it before then."""
        if exc.retry_after_s:
            await self.limiter.limits.hold(key, self.limiter.rate_per_s, exc.retry_after_s)


class RobotDigests:
    def __init__(self, pool: asyncpg.Pool, relay: OutboxRelay, robots: Mapping[str, DigestRobot], sealer: Sealer,
                 deps: Dependencies, registry: CollectorRegistry, lease_s: float) -> None:
        self.pool = pool
        self.relay = relay
        self.robots = robots
        self.sealer = sealer
        self.deps = deps
        self.lease_s = lease_s
        self.messages = Counter("antibully_robot_digests", "Robot digest messages sent, and notices they carried",
                                ["kind", "what"], registry=registry)

    async def park(self, conn: Conn, notification_id: uuid.UUID, incident_id: uuid.UUID, role: str,
                   kind: str, address: str, line: str) -> None:
        """Into the robot's queue (sealed); inside the caller's transaction."""
        robot = self.robots[kind]
        payload = self.sealer.seal(json.dumps({"address": address, "line": line}).encode(),
                                   queue_aad(notification_id))
        await repository_lanes.park(conn, notification_id, robot.key(address), kind, incident_id, role, payload)

    async def round(self) -> None:
        async with self.pool.acquire() as conn:
            keys = await repository_lanes.robots_waiting(conn)
        for key in keys:
            await self._drain(key)

    async def _drain(self, key: str) -> None:
        """Digests for one robot while it has tokens and notices wait."""
        while True:
            async with self.pool.acquire() as conn:
                claimed = await repository_lanes.claim(conn, key, self.lease_s, CLAIM_AT_MOST)
            if not claimed:
                return
            robot = self.robots.get(claimed[0].kind)
            if robot is None:  # the channel is no longer configured here: another replica may have it
                await self._release(claimed)
                return
            limiter = robot.limiter
            if await limiter.limits.take(key, limiter.rate_per_s, limiter.burst) > 0:
                await self._release(claimed)
                return
            payloads = [json.loads(self.sealer.open(q.payload_ct, queue_aad(q.notification_id))) for q in claimed]
            text, n = first_digest([p["line"] for p in payloads], MAX_BYTES.get(robot.kind, 2048))
            chunk = claimed[:n]
            await self._release(claimed[n:])
            ids = [q.notification_id for q in chunk]
            async with self.pool.acquire() as conn:
                await repository_lanes.posting(conn, ids)
            message_id = str(derive_id("robot-digest", *ids))
            try:
                result = await robot.robot.post(OutboundMessage(payloads[0]["address"], "", text, message_id))
            except TransientError as exc:
                log.warning("robot digest of %d notices not sent (%s): retried", len(chunk), exc.code)
                # a timeout or a broken connection may have reached the robot: the next digest is a resend
                await self._release(chunk, unsent=exc.code not in UNKNOWN_OUTCOME)
                await robot.hold(key, exc)
                return
            except ChannelError as exc:
                await self._failed(chunk, robot, exc.code)
                continue
            await self._sent(chunk, robot, result)

    async def _release(self, items: list[repository_lanes.Queued], *, unsent: bool = False) -> None:
        if items:
            async with self.pool.acquire() as conn:
                await repository_lanes.release(conn, [q.notification_id for q in items], unsent=unsent)

    async def _sent(self, chunk: list[repository_lanes.Queued], robot: DigestRobot, result: SendResult) -> None:
        channel = f"{robot.kind}/{result.provider}"

        async def record() -> None:
            async with self.pool.acquire() as conn, conn.transaction():
                for q in chunk:
                    attempts = await repository_lanes.sent(conn, q, result.message_id, channel)
                    await enqueue(conn, NotificationDelivered(
                        event_id=derive_id("notification-delivered", q.notification_id), incident_id=q.incident_id,
                        notification_id=q.notification_id, role=RecipientRole(q.role), channel=robot.kind,
                        attempts=attempts, provider=result.provider))

        # It went out: the record must follow even if the database went away meanwhile, or it goes out twice.
        await self.deps.until_done("recording a robot digest", record)
        self.messages.labels(robot.kind, "messages").inc()
        self.messages.labels(robot.kind, "notices").inc(len(chunk))
        self.relay.kick()

    async def _failed(self, chunk: list[repository_lanes.Queued], robot: DigestRobot, code: str) -> None:
        """The robot refuses for good (removed, wrong key): each notice fails, so its duty is chased."""
        log.error("robot %s refused a digest of %d notices: %s", robot.kind, len(chunk), code)
        reason = f"{robot.kind}/{robot.provider}:{code}"
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                for q in chunk:
                    attempts = await repository_lanes.failed(conn, q, reason)
                    await enqueue(conn, NotificationFailed(
                        event_id=derive_id("notification-failed", q.notification_id), incident_id=q.incident_id,
                        notification_id=q.notification_id, role=RecipientRole(q.role), channel=robot.kind,
                        reason="all_refused", attempts=attempts, tried=[reason]))
        except Exception as exc:  # noqa: BLE001 - left leased; tried again when the lease runs out
            log.warning("could not record a refused robot digest: %s", safe_error(exc))
            return
        self.relay.kick()
