"""A letter's share for one school, cut into batches (pure): who has a contact, in which order to try.

SMS first (short, read at once), then e-mail (the whole letter). A batch's event id derives from the
letter, the school and the batch number: a redelivered LetterApproved enqueues nothing new, and the
relay's Nats-Msg-Id makes a republished batch a duplicate JetStream drops.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from services.intake.roster_rows import contact_aad
from shared.contracts.base import derive_id
from shared.contracts.letters import MAX_BATCH, LetterApproved, LetterBatchRequested, LetterRecipient
from shared.contracts.notification import Address, ChannelKind
from shared.crypto import Sealer


def recipients_of(rows: Sequence[Any], school_id: str, sealer: Sealer) -> tuple[list[LetterRecipient], int]:
    """The rows' recipients with their routes, and how many rows have no contact at all."""
    out: list[LetterRecipient] = []
    no_contact = 0
    for row in rows:
        if not (row["has_phone"] or row["has_email"]):
            no_contact += 1
            continue
        contact = json.loads(sealer.open(row["contact"], contact_aad(school_id, row["row_key"])))
        routes = [Address(kind=ChannelKind.sms, to=contact["phone"])] if contact.get("phone") else []
        routes += [Address(kind=ChannelKind.email, to=contact["email"])] if contact.get("email") else []
        out.append(LetterRecipient(key=row["row_key"], grade=row["grade"], addresses=routes))
    return out, no_contact


def batches_for(letter: LetterApproved, school_id: str, recipients: list[LetterRecipient],
                size: int = MAX_BATCH) -> list[LetterBatchRequested]:
    chunks = [recipients[i:i + size] for i in range(0, len(recipients), size)]
    return [LetterBatchRequested(
        event_id=derive_id("letter-batch", letter.letter_id, school_id, n), letter_id=letter.letter_id,
        school_id=school_id, batch_no=n, batches=len(chunks), title=letter.title, body=letter.body, recipients=chunk)
        for n, chunk in enumerate(chunks, start=1)]
