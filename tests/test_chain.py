"""The hash chain verifies when intact and names the first broken entry otherwise."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid

import pytest

from services.archive.chain import GENESIS, Entry, Walk, first_broken, next_entry
from shared.contracts.base import utcnow

pytestmark = pytest.mark.pure


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


def _walk(entries: list[Entry], hashes: list[str] | None = None) -> tuple[int, str] | None:
    walk = Walk()
    for i, e in enumerate(entries):
        if (wrong := walk.feed(e, hashes[i] if hashes else None)) is not None:
            return e.seq, wrong
    return None


def test_walk_verifies_many_chains_in_a_stream() -> None:
    a, pa = _chain(3)
    b, pb = _chain(2)
    walk = Walk()
    for e, p in zip([*a, *b], [*pa, *pb], strict=True):
        assert walk.feed(e, hashlib.sha256(p).hexdigest()) is None
    assert (walk.cases, walk.entries) == (2, 5)


def test_walk_names_what_is_wrong() -> None:
    entries, payloads = _chain(4)
    edited = [*entries[:2], dataclasses.replace(entries[2], summary={"i": 99}), entries[3]]
    assert _walk(edited) == (3, "hash does not match the entry's contents")
    assert _walk([entries[0], *entries[2:]]) == (3, "expected seq 2: entries are missing")
    rehashed = next_entry(entries[1].incident_id, 1, entries[0].hash, entries[1].event_id, "X", utcnow(), {}, b"x")
    assert _walk([entries[0], rehashed, *entries[2:]]) == (3, "prev_hash does not match the previous entry's hash")
    hashes = [hashlib.sha256(p).hexdigest() for p in payloads]
    hashes[1] = hashlib.sha256(b"other").hexdigest()
    assert _walk(entries, hashes) == (2, "sealed payload does not match its payload_sha256")
