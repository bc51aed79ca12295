"""Contacts that work before they are needed (brief 2(5)): every role in the directory must have at
least one address a configured channel can reach. Checked at start-up and on a schedule; a gap is
reported to ops (metric, log) and to the bureau's admin contact, once a day per distinct gap."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

from services.notify import repository
from services.notify.channels.base import OutboundMessage
from services.notify.failover import Address, Failover
from shared.contracts.base import derive_id
from shared.contracts.notification import ChannelKind
from shared.directory import Directory, DirectoryError, load_directory

log = logging.getLogger("antibully.notify.reachability")


def unreachable(directory: Directory, kinds: Collection[ChannelKind]) -> list[str]:
    """The labels (role, school:<id>, contact:<name>) with no address on a configured channel kind."""
    return sorted(label for label, contact in directory.every_contact().items()
                  if not any(a.kind in kinds for a in contact.addresses()))


def admin_alert(directory_file: Path, failover: Failover) -> Callable[[list[str]], Awaitable[None]]:
    """Tell the bureau's admin contact (directory `officials.admin`) which entries no channel can reach."""

    async def alert(gaps: list[str]) -> None:
        try:
            admin = load_directory(directory_file).officials.admin
        except DirectoryError:
            admin = None  # an unreadable directory names no admin: ops has the log line and the metric
        if admin is None:
            log.error("no officials.admin contact in the directory: the gap is reported to ops only")
            return
        subject = "【通讯录检查】有联系人无法送达"
        body = (f"{admin.name}：\n\n通知服务检查发现，以下通讯录条目没有可用的送达渠道，"
                f"事件发生时将无法通知到位，请尽快补充或更正：\n"
                + "".join(f"- {g}\n" for g in gaps) + "\n（本提醒每天最多发送一次。）\n")
        key = str(derive_id("reachability", dt.date.today(), *gaps))
        routes = [Address(a.kind.value, a.to) for a in admin.addresses()]
        outcome = await failover.deliver(routes, lambda a: OutboundMessage(
            a.value, subject, body if a.kind == "email" else f"{subject}：{len(gaps)}个条目，请查看邮件或系统。", key,
            sms_template="directory_alert", sms_params={"count": str(len(gaps))}))
        log.warning("reachability report to the admin contact: %s", outcome.status.value)

    return alert


class ReachabilityCheck:
    def __init__(self, directory_file: Path, kinds: Collection[ChannelKind], pool: asyncpg.Pool,
                 registry: CollectorRegistry, alert: Callable[[list[str]], Awaitable[None]]) -> None:
        self.directory_file = directory_file
        self.kinds = kinds
        self.pool = pool
        self.alert = alert
        self.gauge = Gauge("antibully_contacts_unreachable", "Directory entries no configured channel can reach",
                           registry=registry)

    async def check(self, today: dt.date | None = None) -> list[str]:
        """Re-read the directory (the bureau edits it), report the gaps; returns them."""
        try:
            gaps = unreachable(load_directory(self.directory_file), self.kinds)
        except DirectoryError as exc:
            gaps = ["directory_invalid"]
            log.error("CONTACT DIRECTORY INVALID: %s", exc)
        self.gauge.set(len(gaps))
        if not gaps:
            return gaps
        log.error("UNREACHABLE CONTACTS: %s have no working channel", ", ".join(gaps))
        digest = hashlib.sha256("\n".join(gaps).encode()).hexdigest()
        async with self.pool.acquire() as conn:
            first = await repository.reachability_reported(conn, today or dt.date.today(), digest)
        if first:
            await self.alert(gaps)
        return gaps
