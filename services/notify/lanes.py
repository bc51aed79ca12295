"""Notify's lanes (issue 12): one durable consumer per priority, each with its own slots and channels.

- urgent, standard and bulk notices come on their own subjects (`ab.notify.requested.<lane>`) to their
  own consumers, each bounded by its own slots: an urgent notice never waits for a slot a lower
  lane holds, and while urgent notices are handled the lower lanes start at most one more
  (priority_gate.py), so the urgent lane gets the process's time. The urgent lane also has its own
  small connection pool, so it never waits for a connection either; standard and bulk together stay
  within the service pool's handler share.
- within a lane no send waits for a provider's limit while holding a slot: the limits are shared
  token buckets (limits.py) that answer "now" or "not now"; "not now" is a fall-over, a nak with
  the wait, or for a robot a place in its digest queue (robot_digest.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import httpx

from services.notify.channels import Channel, build_channels
from services.notify.handlers import NotifyHandlers
from services.notify.limits import SharedKeyed, SharedLimits
from services.notify.priority_gate import LaneSlot, PriorityGate
from services.notify.repository import SCHEMA
from services.notify.robot_digest import DigestRobot, RobotDigests
from shared.config import Settings
from shared.contracts import NotificationRequested
from shared.contracts.notification import Priority
from shared.crypto import Sealer
from shared.service import Infra, service_pool
from shared.tasks import BackgroundLoop, every

log = logging.getLogger("antibully.notify")
ROBOT_KINDS = ("wecom", "dingtalk")


def rate_key_secret(settings: Settings) -> bytes:
    """The HMAC key of the shared buckets' keys: notify's own secrets, never stored."""
    base = settings.notify_data_key or settings.link_key
    if not base:
        log.warning("neither NOTIFY_DATA_KEY nor LINK_KEY is set: rate-limit keys are plain SHA-256 digests")
    return hashlib.sha256(b"antibully-notify-rate-keys\0" + base.encode()).digest()


def lane_channels(settings: Settings, http: httpx.AsyncClient, limits: SharedLimits, can_park: bool
                  ) -> tuple[dict[str, list[Channel]], dict[str, DigestRobot]]:
    """The providers with their limits shared; robots that park their notice when throttled."""
    channels = build_channels(settings, http, limits)
    robots: dict[str, DigestRobot] = {}
    for kind in ROBOT_KINDS:
        for robot in channels.get(kind, []):
            limiter = SharedKeyed(limits, kind, settings.robot_per_minute, settings.robot_window_s)
            robots[kind] = DigestRobot(robot, limiter, can_park=can_park)  # type: ignore[arg-type]
        if kind in robots:
            channels[kind] = [robots[kind]]
    return channels, robots


@dataclass
class Lanes:
    channels: dict[str, list[Channel]]  # for the reachability check and admin alerts: robots never park there
    digests: RobotDigests | None
    loops: list[BackgroundLoop]
    gate: PriorityGate  # another low-priority subscription (letters) takes `LaneSlot(n, gate, urgent=False)`


@asynccontextmanager
async def urgent_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The urgent lane's own connections. Opened before and closed after the service's infrastructure, so
    urgent handlers still draining at shutdown keep them."""
    s = settings
    pool = await service_pool(s, "notify", SCHEMA, s.notify_urgent_pool_size)
    try:
        yield pool
    finally:
        await pool.close()


def subscribe_lanes(infra: Infra, settings: Settings, http: httpx.AsyncClient, sealer: Sealer | None,
                    pool_for_urgent: asyncpg.Pool,
                    make_handlers: Callable[[asyncpg.Pool, dict[str, list[Channel]], RobotDigests | None],
                                            NotifyHandlers]) -> Lanes:
    """Subscribes the three lanes; gives their channels and the robot digest loop (not started)."""
    s = settings
    secret = rate_key_secret(s)
    if sealer is None:
        log.warning("NOTIFY_DATA_KEY is not set: a throttled robot's notices are retried, not digested")
    channels, robots = lane_channels(s, http, SharedLimits(infra.pool, secret, s.rate_inline_wait_s,
                                                           reserve=s.rate_urgent_reserve), sealer is not None)
    digests = (RobotDigests(infra.pool, infra.relay, robots, sealer, infra.deps, infra.registry, s.ack_wait_s)
               if sealer is not None and robots else None)
    urgent_channels, _ = lane_channels(s, http, SharedLimits(pool_for_urgent, secret, s.rate_inline_wait_s),
                                       sealer is not None)
    shared = make_handlers(infra.pool, channels, digests)
    urgent = make_handlers(pool_for_urgent, urgent_channels, digests)
    gate = PriorityGate(s.notify_lower_while_urgent)
    for lane, handlers, n in ((Priority.urgent, urgent, s.notify_urgent_concurrency),
                              (Priority.standard, shared, s.notify_standard_concurrency),
                              (Priority.bulk, shared, s.notify_bulk_concurrency)):
        infra.consumers.subscribe(NotificationRequested, handlers.on_requested, concurrency=n, lane=lane.value,
                                  limiter=LaneSlot(n, gate, urgent=lane == Priority.urgent))
    loops = [every("robot-digests", s.robot_digest_interval_s, digests.round, infra.deps)] if digests else []
    unparked: dict[str, list[Channel]] = {
        k: [DigestRobot(robots[k].robot, robots[k].limiter, can_park=False)] if k in robots else v
        for k, v in channels.items()}
    return Lanes(unparked, digests, loops, gate)
