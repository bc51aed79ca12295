"""The letters' own cost at notify, without providers (run by hand; never part of pytest).

    .venv/bin/python -m bench.letters_machinery [--parents 200000] [--in-flight 4]

Batches of 500 go straight to notify's batch handler (`LetterSender.on_batch`) in this process, against
a fresh database, with channels that accept at once: what is left is notify's per-letter work (the bulk
claim, the link and the message, the bulk settle, the batch's counts and its outbox row). It bounds what
one replica can hand to the gateways when the providers are not the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import bench_infrastructure, finish, machine, run_loop

_STARTED = time.monotonic()


class AcceptAll:
    """A channel whose provider takes everything at once (a batch call per 100 messages, like Aliyun's)."""

    max_batch = 100

    def __init__(self, kind: str) -> None:
        self.kind, self.provider = kind, "null"

    async def send(self, message: Any) -> Any:
        from services.notify.channels.base import SendResult

        return SendResult("null", message.idempotency_key)

    async def send_batch(self, messages: Sequence[Any]) -> list[Any]:
        from services.notify.channels.base import SendResult

        await asyncio.sleep(0)
        return [SendResult("null", m.idempotency_key) for m in messages]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from services.intake.letter_batches import batches_for
    from services.notify.letters import LetterSender
    from services.notify.links import Links
    from services.notify.repository import SCHEMA
    from shared.consumer import Delivery
    from shared.contracts.letters import LetterApproved, LetterAudience, LetterRecipient
    from shared.contracts.notification import Address, ChannelKind
    from shared.crypto import Sealer, new_key_b64
    from shared.db import create_pool
    from shared.health import Dependencies
    from shared.letter_routes import seal_routes
    from shared.migrations import migrate, migrations_dir
    from shared.outbox import OutboxRelay

    with tempfile.TemporaryDirectory(prefix="bench-letters-machinery-") as tmp:
        async with bench_infrastructure(Path(tmp)) as infra:
            pool = await create_pool(infra.database_url, SCHEMA, max_size=10)
            try:
                await migrate(pool, SCHEMA, migrations_dir("notify"))
                deps = Dependencies("notify", pool, CollectorRegistry())

                async def publish(*_: object) -> None:
                    return None

                relay = OutboxRelay(pool, publish, deps)
                routes = Sealer(new_key_b64())
                sender = LetterSender(pool, relay, {"sms": [AcceptAll("sms")], "email": [AcceptAll("email")]},
                                      Links(new_key_b64()), "https://example.cn", 30 * 86400, 30.0, deps,
                                      CollectorRegistry(), routes_sealer=routes)
                body = "尊敬的家长：" + "防治学生欺凌。" * 200
                letter = LetterApproved(event_id=uuid.uuid4(), letter_id=uuid.uuid4(), jurisdiction="lechang",
                                        title="致全市中小学生家长的一封信", body=body, audience=LetterAudience(),
                                        created_by="a", approved_by="b")
                recipients = [LetterRecipient(key=f"{i:032x}", grade="七年级", sealed_routes=seal_routes(
                    routes, letter.letter_id, f"{i:032x}", [Address(kind=ChannelKind.sms, to=f"139{i:08d}"),
                                                            Address(kind=ChannelKind.email, to=f"p{i}@example.cn")]))
                              for i in range(args.parents)]
                batches = batches_for(letter, "school-0001", recipients)
                queue: asyncio.Queue[Any] = asyncio.Queue()
                for b in batches:
                    queue.put_nowait(b)

                async def worker() -> None:
                    while not queue.empty():
                        await sender.on_batch(queue.get_nowait(), Delivery(attempt=1))

                t = time.monotonic()
                await asyncio.gather(*(worker() for _ in range(args.in_flight)))
                took = time.monotonic() - t
                sent = await pool.fetchval("SELECT count(*) FROM letter_sends WHERE state = 'sent'")
            finally:
                await pool.close()
    return {"machine": machine(), "parents": args.parents, "in_flight": args.in_flight, "sent": sent,
            "seconds": round(took, 1), "letters_per_s": round(args.parents / took, 1)}


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parents", type=int, default=200_000)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    r = run_loop(main(args))
    text = (f"notify's letter machinery, one process, providers accepting at once: {r['sent']} of {r['parents']} "
            f"sent in {r['seconds']} s = {r['letters_per_s']} letters/s ({r['in_flight']} batches in flight)")
    return finish(text, r, args.json, _STARTED)


if __name__ == "__main__":
    raise SystemExit(cli())
