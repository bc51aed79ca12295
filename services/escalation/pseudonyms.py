"""Keyed pseudonyms of students (pure): the same student of the same school always maps to the same
value, which says nothing without the key. Escalation keeps only these, never names or refs.

Refs are the school's own, so repeats are seen within a school. Seeing a student across the
schools of a jurisdiction needs an identifier schools share (the national student number),
which the report contract does not carry yet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


class Pseudonyms:
    def __init__(self, key_b64: str) -> None:
        self._key = base64.b64decode(key_b64)
        if len(self._key) < 32:
            raise ValueError("PSEUDONYM_KEY must be base64 of at least 32 bytes")

    def of(self, school_id: str, student_ref: str) -> bytes:
        return hmac.new(self._key, f"{school_id}\x1f{student_ref}".encode(), hashlib.sha256).digest()
