"""`antibully dead-letters list|show|replay`: what the consumers gave up on, and handing it back.

Never prints a payload: ids, subjects, reasons, field paths, counts and times only.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import nats.js

from shared import dead_letters
from shared.bus import connect
from shared.bus_topology import ADMIN
from shared.config import Settings
from shared.crypto import Sealer
from shared.dead_letters import DeadLetter

SHANGHAI = ZoneInfo("Asia/Shanghai")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dl = sub.add_parser("dead-letters", help="list, show or replay dead letters (uses NATS_URL, DEAD_LETTER_KEY)"
                        ).add_subparsers(dest="action", required=True)
    for name, what in (("list", "dead letters, oldest first"), ("replay", "publish them again to their subject")):
        p = dl.add_parser(name, help=what)
        p.add_argument("--subject", help="only those from this subject (e.g. ab.notify.requested)")
        p.add_argument("--service", help="only those of this consumer service (e.g. notify)")
        p.add_argument("--since", type=_since, help="only those last failed since: 2026-11-30T08:00, or 2h, 3d")
        if name == "replay":
            p.add_argument("--seq", type=int, action="append", help="only this dead letter (repeatable)")
            p.add_argument("--keep", action="store_true", help="keep the dead letters after replaying them")
            p.add_argument("--dry-run", action="store_true", help="say what would be replayed, do nothing")
    dl.add_parser("show", help="one dead letter in full (never its payload)").add_argument("seq", type=int)


def _since(text: str) -> datetime:
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=SHANGHAI)


def _when(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _line(d: DeadLetter) -> str:
    return (f"{d.seq:>6}  {d.service:<10} {d.subject:<32} {d.reason:<16} {d.attempts:>3}  "
            f"{_when(d.first_at)}  {_when(d.last_at)}  {d.event_id or '-'}")


HEADER = f"{'seq':>6}  {'service':<10} {'subject':<32} {'reason':<16} {'n':>3}  {'first (Shanghai)':<19}  " \
         f"{'last':<19}  event id"


async def run(args: argparse.Namespace, settings: Settings) -> tuple[int, list[str]]:
    nc = await connect(settings, ADMIN, max_reconnect_attempts=2)
    try:
        js = nc.jetstream()
        if args.action == "show":
            found = [d for d in await dead_letters.read(js) if d.seq == args.seq]
            return (0, _show(found[0])) if found else (1, [f"no dead letter {args.seq}"])
        letters = await dead_letters.read(js, subject=args.subject, service=args.service, since=args.since)
        if args.action == "list":
            return 0, [HEADER, *map(_line, letters), f"{len(letters)} dead letter(s)"]
        if args.seq:
            letters = [d for d in letters if d.seq in set(args.seq)]
        return await _replay(js, letters, args, settings)
    finally:
        await nc.close()


def _show(d: DeadLetter) -> list[str]:
    return [f"dead letter {d.seq}", f"  service        {d.service}", f"  subject        {d.subject}",
            f"  reason         {d.reason}", f"  detail         {d.detail or '-'}", f"  attempts       {d.attempts}",
            f"  first failed   {_when(d.first_at)} (Asia/Shanghai)", f"  last failed    {_when(d.last_at)}",
            f"  event id       {d.event_id or '-'}", f"  original       {d.stream or '-'} seq {d.stream_seq}",
            f"  message id     {d.msg_id or '-'}", f"  payload        {d.body} (never shown)"]


async def _replay(js: nats.js.JetStreamContext, letters: Sequence[DeadLetter], args: argparse.Namespace,
                  settings: Settings) -> tuple[int, list[str]]:
    sealer = Sealer(settings.dead_letter_key, "DEAD_LETTER_KEY") if settings.dead_letter_key else None
    out, failed = [], 0
    for d in letters:
        if args.dry_run:
            out.append(f"would replay {d.seq} to {d.subject} (event {d.event_id or '-'})")
            continue
        try:
            fresh = await dead_letters.replay(js, d, sealer, keep=args.keep)
        except LookupError as exc:
            failed += 1
            out.append(f"cannot replay {d.seq}: {exc}")
            continue
        out.append(f"replayed {d.seq} to {d.subject}" + ("" if fresh else " (already replayed: no second copy)"))
    out.append(f"{len(letters) - failed} of {len(letters)} replayed" if not args.dry_run else
               f"{len(letters)} would be replayed")
    return (1 if failed else 0), out
