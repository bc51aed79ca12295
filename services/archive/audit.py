"""The access log's entries and their hash chain (pure): who read what, when, and why.

One chain for the whole log (not one per case): removing a read of any case breaks it.
Hashing reuses the record's canonical encoding and link (services/archive/chain.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.archive.chain import GENESIS, link
from shared.identity import Official


@dataclass(frozen=True)
class AccessEntry:
    seq: int
    at: datetime
    account_id: str
    role: str
    jurisdiction: str
    action: str                 # list | detail | duties | access_log | ledger | export
    case_id: uuid.UUID | None
    filter: dict[str, Any]
    outcome: str                # ok | not_found
    purpose: str
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "at": self.at.isoformat(), "account_id": self.account_id, "role": self.role,
            "jurisdiction": self.jurisdiction, "action": self.action,
            "case_id": str(self.case_id) if self.case_id else None, "filter": self.filter,
            "outcome": self.outcome, "purpose": self.purpose,
        }


@dataclass(frozen=True)
class Access:
    """A read about to be logged, before it has a place in the chain."""

    official: Official
    action: str
    purpose: str
    case_id: uuid.UUID | None = None
    filter: dict[str, Any] | None = None
    outcome: str = "ok"


def next_access(head_seq: int, head_hash: str, at: datetime, access: Access) -> AccessEntry:
    o = access.official
    draft = AccessEntry(head_seq + 1, at, o.account_id, o.role.value, o.jurisdiction, access.action,
                        access.case_id, access.filter or {}, access.outcome, access.purpose, head_hash, "")
    return replace(draft, hash=link(head_hash, draft.body()))


def access_problem(entry: AccessEntry, expected_seq: int, prev_hash: str) -> str | None:
    """What is wrong with one access-log entry given the one before it, or None."""
    if entry.seq != expected_seq:
        return f"seq {expected_seq} is missing (found {entry.seq})"
    if entry.prev_hash != prev_hash:
        return "does not follow the previous entry"
    if link(prev_hash, entry.body()) != entry.hash:
        return "hash does not match the entry's contents"
    return None


def first_broken_access(entries: Sequence[AccessEntry]) -> int | None:
    """The seq of the first entry that does not verify, or None (entries: the whole log from seq 1)."""
    prev = GENESIS
    for i, e in enumerate(entries):
        if e.seq != i + 1 or e.prev_hash != prev or link(prev, e.body()) != e.hash:
            return e.seq
        prev = e.hash
    return None
