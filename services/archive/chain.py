"""The hash chain of a case's record (pure).

Each entry's hash covers the previous hash and a canonical encoding of the entry, whose
payload enters only as the SHA-256 of its ciphertext: destroying a data key later
(crypto-shredding) leaves the chain verifiable.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Entry:
    incident_id: uuid.UUID
    seq: int
    event_id: uuid.UUID
    event_type: str
    recorded_at: datetime
    summary: dict[str, Any]
    payload_sha256: str
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {
            "incident_id": str(self.incident_id),
            "seq": self.seq,
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "recorded_at": self.recorded_at.isoformat(),
            "summary": self.summary,
            "payload_sha256": self.payload_sha256,
        }


def link(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(body)).hexdigest()


def next_entry(
    incident_id: uuid.UUID, head_seq: int, head_hash: str, event_id: uuid.UUID, event_type: str,
    recorded_at: datetime, summary: dict[str, Any], payload_ct: bytes,
) -> Entry:
    draft = Entry(incident_id, head_seq + 1, event_id, event_type, recorded_at, summary,
                  hashlib.sha256(payload_ct).hexdigest(), head_hash, "")
    return Entry(**{**draft.__dict__, "hash": link(head_hash, draft.body())})


def first_broken(entries: Sequence[Entry], payloads: Sequence[bytes] | None = None) -> int | None:
    """The seq of the first entry that does not verify, or None when the whole chain holds."""
    prev = GENESIS
    for i, e in enumerate(entries):
        if e.seq != i + 1 or e.prev_hash != prev or link(prev, e.body()) != e.hash:
            return e.seq
        if payloads is not None and hashlib.sha256(payloads[i]).hexdigest() != e.payload_sha256:
            return e.seq
        prev = e.hash
    return None


@dataclass
class Walk:
    """Streaming verification of many chains, fed entries in (incident_id, seq) order.

    Holds only the previous entry's link, so a verifier can walk the whole archive from a cursor.
    """

    cases: int = 0
    entries: int = 0
    _case: uuid.UUID | None = None
    _seq: int = 0
    _prev: str = GENESIS

    def feed(self, e: Entry, ciphertext_sha256: str | None = None) -> str | None:
        """What is wrong with this entry (the first problem found), or None when it links."""
        if e.incident_id != self._case:
            self._case, self._seq, self._prev = e.incident_id, 0, GENESIS
            self.cases += 1
        self.entries += 1
        expected = self._seq + 1
        self._seq, prev, self._prev = e.seq, self._prev, e.hash
        if e.seq != expected:
            return f"expected seq {expected}: entries are missing"
        if e.prev_hash != prev:
            return "prev_hash does not match the previous entry's hash"
        if link(prev, e.body()) != e.hash:
            return "hash does not match the entry's contents"
        if ciphertext_sha256 is not None and ciphertext_sha256 != e.payload_sha256:
            return "sealed payload does not match its payload_sha256"
        return None
