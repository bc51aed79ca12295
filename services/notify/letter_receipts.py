"""The SMS providers' delivery reports for letters: counted per school and report push, not per parent.

A report that names no notice (deliveries) may name a letter (letter_sends, by the provider's message
id): each such parent is marked once, and one LetterReceipts per (letter, school) of the push carries the
counts. Its id derives from the message ids it counts, so the same push again counts nothing new.
"""

from __future__ import annotations

from collections import defaultdict

from services.notify import repository_letters as sql
from services.notify.channels.aliyun_sms import number_message_id
from services.notify.receipts import Receipt
from shared.contracts.base import derive_id
from shared.contracts.letters import LetterReceipts
from shared.db import Executor


def _ids(provider: str, receipt: Receipt, aliyun_secret: str) -> list[tuple[str, bool]]:
    """The message ids a report may name: the call's, and for an Aliyun batch the number's within it."""
    ids = [(receipt.message_id, receipt.delivered)]
    if provider == "aliyun" and receipt.phone and aliyun_secret:
        ids.append((number_message_id(receipt.message_id, receipt.phone, aliyun_secret), receipt.delivered))
    return ids


async def letter_receipts(conn: Executor, provider: str, receipts: list[Receipt], aliyun_secret: str = ""
                          ) -> list[LetterReceipts]:
    rows = await sql.record_receipts(conn, provider, [i for r in receipts for i in _ids(provider, r, aliyun_secret)])
    groups: dict[tuple[object, str], list[tuple[str, bool]]] = defaultdict(list)
    for row in rows:
        groups[(row["letter_id"], row["school_id"])].append((row["message_id"], row["ok"]))
    return [LetterReceipts(
        event_id=derive_id("letter-receipts", letter_id, school_id, *sorted(m for m, _ in items)),
        letter_id=letter_id, school_id=school_id, delivered=sum(1 for _, ok in items if ok),
        undelivered=sum(1 for _, ok in items if not ok)) for (letter_id, school_id), items in groups.items()]
