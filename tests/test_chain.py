"""The hash chain verifies when intact and names the first broken entry otherwise."""

from __future__ import annotations

import dataclasses
import uuid

from services.archive.chain import GENESIS, Entry, first_broken, next_entry
from shared.contracts.base import utcnow


def _chain(n: int) -> tuple[list[Entry], list[bytes]]:
    incident = uuid.uuid4()
    entries: list[Entry] = []
    payloads: list[bytes] = []
    seq, head = 0, GENESIS
    for i in range(n):
        payload = f"sealed-{i}".encode()
        entry = next_entry(incident, seq, head, uuid.uuid4(), "IncidentReported", utcnow(), {"i": i}, payload)
        entries.append(entry)
        payloads.append(payload)
        seq, head = entry.seq, entry.hash
    return entries, payloads


def test_intact_chain_verifies() -> None:
    entries, payloads = _chain(5)
    assert first_broken(entries, payloads) is None
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS


def test_edited_summary_is_caught_at_its_entry() -> None:
    entries, _ = _chain(5)
    entries[2] = dataclasses.replace(entries[2], summary={"i": 99})
    assert first_broken(entries) == 3


def test_rehashed_edit_breaks_the_next_link() -> None:
    entries, _ = _chain(4)
    forged = next_entry(entries[1].incident_id, 1, entries[0].hash, entries[1].event_id, "X", utcnow(), {}, b"x")
    entries[1] = forged
    assert first_broken(entries) == 3


def test_removed_entry_is_caught() -> None:
    entries, _ = _chain(4)
    del entries[1]
    assert first_broken(entries) == 3  # the entry after the gap no longer links


def test_swapped_payload_is_caught() -> None:
    entries, payloads = _chain(3)
    payloads[1] = b"other"
    assert first_broken(entries, payloads) == 2
