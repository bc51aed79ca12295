"""Help-request identities (pure): access codes, case codes and passcodes.

The passcode is a keyed hash of the case id, so intake stores no passcode at all and a
replayed request can answer with the same one. Codes avoid look-alike characters, since
children copy them by hand.
"""

from __future__ import annotations

import hmac
import secrets
import uuid

from shared.contracts.base import derive_id
from shared.crypto import Sealer

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_access_code(length: int = 8) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def help_id_for(school_id: str, access_code: str, idempotency_key: str | None) -> uuid.UUID:
    return derive_id("help", school_id, access_code, idempotency_key) if idempotency_key else uuid.uuid4()


def message_id_for(help_id: uuid.UUID, author: str, idempotency_key: str | None) -> uuid.UUID:
    return derive_id("help-message", help_id, author, idempotency_key) if idempotency_key else uuid.uuid4()


def case_code_for(help_id: uuid.UUID) -> str:
    n = help_id.int
    chars = []
    for _ in range(10):
        n, i = divmod(n, len(ALPHABET))
        chars.append(ALPHABET[i])
    return "H" + "".join(chars)


def passcode_for(sealer: Sealer, help_id: uuid.UUID) -> str:
    return f"{int.from_bytes(sealer.mac('help-passcode', str(help_id))[:8], 'big') % 10**8:08d}"


def passcode_matches(sealer: Sealer, help_id: uuid.UUID, given: str) -> bool:
    return hmac.compare_digest(passcode_for(sealer, help_id).encode(), given.strip().encode())
