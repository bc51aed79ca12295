"""A letter's share for one school, cut into batches (pure): who has a contact, in which order to try.

SMS first (short, read at once), then e-mail (the whole letter). A batch's event id derives from the
letter, the school and the batch number: a redelivered LetterApproved enqueues nothing new, and the
relay's Nats-Msg-Id makes a republished batch a duplicate JetStream drops.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.intake.roster_rows import contact_aad
from shared.contracts.base import derive_id
from shared.contracts.letters import MAX_BATCH, LetterApproved, LetterBatchRequested, LetterRecipient
from shared.contracts.notification import Address, ChannelKind
from shared.crypto import Sealer
from shared.letter_routes import seal_routes


@dataclass
class Share:
    recipients: list[LetterRecipient] = field(default_factory=list)
    no_contact: int = 0
    merged: int = 0  # rows whose parent the letter already reaches through another row (siblings)


def recipients_of(rows: Sequence[Any], school_id: str, sealer: Sealer, letter_id: uuid.UUID, routes_sealer: Sealer,
                  seen: set[str] | None = None) -> Share:
    """The rows' recipients with their routes (sealed for notify with `routes_sealer`); rows without any
    contact, and rows whose phone (or, without one, e-mail) is already in `seen` (a parent of two pupils
    gets one letter), are only counted."""
    seen = set() if seen is None else seen
    share = Share()
    for row in rows:
        if not (row["has_phone"] or row["has_email"]):
            share.no_contact += 1
            continue
        contact = json.loads(sealer.open(row["contact"], contact_aad(school_id, row["row_key"])))
        who = contact.get("phone") or str(contact.get("email", "")).lower()
        if who in seen:
            share.merged += 1
            continue
        seen.add(who)
        routes = [Address(kind=ChannelKind.sms, to=contact["phone"])] if contact.get("phone") else []
        routes += [Address(kind=ChannelKind.email, to=contact["email"])] if contact.get("email") else []
        share.recipients.append(LetterRecipient(key=row["row_key"], grade=row["grade"], sealed_routes=seal_routes(
            routes_sealer, letter_id, row["row_key"], routes)))
    return share


def batches_for(letter: LetterApproved, school_id: str, recipients: list[LetterRecipient],
                size: int = MAX_BATCH) -> list[LetterBatchRequested]:
    chunks = [recipients[i:i + size] for i in range(0, len(recipients), size)]
    return [LetterBatchRequested(
        event_id=derive_id("letter-batch", letter.letter_id, school_id, n), letter_id=letter.letter_id,
        school_id=school_id, batch_no=n, batches=len(chunks), title=letter.title, body=letter.body, recipients=chunk)
        for n, chunk in enumerate(chunks, start=1)]
