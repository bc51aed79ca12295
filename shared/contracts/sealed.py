"""A sealed section of an event: personal data (names, contacts, free text) that travels on the bus
encrypted for exactly the services that read it (shared/bus_seal.py does the cryptography).

Tolerant by design: `v` names the scheme, unknown fields from a newer producer are ignored, and a reader
the box was not sealed for simply finds no entry of its own.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

B64 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]+={0,2}$", max_length=200_000)]

ARCHIVE = "archive"
NOTIFY = "notify"


class Sealed(BaseModel):
    """X25519 + HKDF-SHA256 + AES-256-GCM: a fresh data key encrypts the section once (`ct`); for each reader
    the data key is wrapped under a key agreed between an ephemeral key (`epk`) and that reader's public key.
    The producer keeps no private key: it can write a box but never read back what it wrote for others."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: int = Field(default=1, ge=1, description="The scheme; 1: X25519-HKDF-SHA256-AES256GCM.")
    epk: B64 = Field(description="The producer's ephemeral X25519 public key (raw 32 bytes).")
    keys: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")], B64] = Field(
        description="Per reader (archive, notify): nonce ‖ the data key wrapped for it.")
    ct: B64 = Field(description="nonce ‖ the section's JSON under the data key.")
