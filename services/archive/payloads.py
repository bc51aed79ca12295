"""Sealing and opening each record entry's payload (the whole event, personal data included).

One module so that how payloads are keyed can change (per-case data keys, crypto-shredding)
without touching the callers: they only ever call `seal_payload` and `open_payload`.
For now: one AES-GCM key from ARCHIVE_DATA_KEY, associated data "{case_id}:{event_id}".
"""

from __future__ import annotations

import uuid

from cryptography.exceptions import InvalidTag

from shared.crypto import Sealer
from shared.db import Conn

_sealer: Sealer | None = None


def configure(archive_data_key: str) -> None:
    """Called once by archive's start-up, before any consumer or request runs."""
    global _sealer
    _sealer = Sealer(archive_data_key)


def _current() -> Sealer:
    if _sealer is None:
        raise RuntimeError("services.archive.payloads.configure() was not called")
    return _sealer


def _aad(case_id: uuid.UUID, event_id: uuid.UUID) -> bytes:
    return f"{case_id}:{event_id}".encode()


async def seal_payload(conn: Conn, case_id: uuid.UUID, event_id: uuid.UUID, plaintext: bytes) -> bytes:
    return _current().seal(plaintext, _aad(case_id, event_id))


async def open_payload(conn: Conn, case_id: uuid.UUID, event_id: uuid.UUID, ct: bytes) -> bytes | None:
    """The plaintext, or None when its key is gone (destroyed: the data is shredded for good)."""
    try:
        return _current().open(ct, _aad(case_id, event_id))
    except InvalidTag:
        return None
