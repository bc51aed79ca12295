"""A parent's contact routes in a letter batch, sealed for notify (pure).

Intake and notify hold LETTER_CONTACT_KEY; nobody else does. On the bus and in JetStream's files (kept
for months), in the archive's record and in dead letters, a batch carries only ciphertext bound to the
letter and the parent's key, so a route cannot be moved to another parent or letter.
"""

from __future__ import annotations

import base64
import json
import uuid

from shared.contracts.notification import Address, ChannelKind
from shared.crypto import Sealer

SETTING = "LETTER_CONTACT_KEY"


def _aad(letter_id: uuid.UUID, key: str) -> bytes:
    return f"letter-routes:{letter_id}:{key}".encode()


def seal_routes(sealer: Sealer, letter_id: uuid.UUID, key: str, routes: list[Address]) -> str:
    plain = json.dumps([{"kind": r.kind.value, "to": r.to} for r in routes], separators=(",", ":")).encode()
    return base64.b64encode(sealer.seal(plain, _aad(letter_id, key))).decode()


def open_routes(sealer: Sealer, letter_id: uuid.UUID, key: str, sealed: str) -> list[Address]:
    """Authenticated (only intake could seal it), so built without validating again: 200,000 of them per letter."""
    plain = json.loads(sealer.open(base64.b64decode(sealed), _aad(letter_id, key)))
    return [Address.model_construct(kind=ChannelKind(r["kind"]), to=r["to"]) for r in plain]
