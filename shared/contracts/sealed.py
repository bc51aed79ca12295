"""A sealed section of an event: personal data (names, contacts, free text) that travels on the bus
encrypted for exactly the services that read it (shared/bus_seal.py does the cryptography).

Tolerant by design: `v` names the scheme, unknown fields from a newer producer are ignored, and a reader
the box was not sealed for simply finds no entry of its own.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

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


class SealedSections(BaseModel):
    """Mixin of an event whose personal fields (`sealed_fields`) travel sealed for the archive in `personal`.

    Those fields are optional in the model: set in clear by a v1 producer and in the archive's opened copy,
    None on the bus from v2 on (shared/bus_seal.py `Sealing.sections` and `Opening.sections`)."""

    sealed_fields: ClassVar[tuple[str, ...]] = ()
    personal: Sealed | None = Field(default=None, description="v2: the personal fields, sealed for the archive.")


def sections_context(event_type: str, case_id: object, event_id: object) -> str:
    """A box of sections belongs to its event: moved to another event or case, it does not open."""
    return f"{event_type}:{case_id}:{event_id}"
