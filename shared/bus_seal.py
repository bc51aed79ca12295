"""Sealing personal sections for the bus (a sealed box per reader; see shared/contracts/sealed.py).

Producers (intake, escalation, the archive) hold the readers' PUBLIC keys only (ARCHIVE_BUS_PUBLIC_KEY,
NOTIFY_BUS_PUBLIC_KEY); each reader holds its own private key (ARCHIVE_BUS_PRIVATE_KEY,
NOTIFY_BUS_PRIVATE_KEY). Every box has its own data key, and the associated data binds it to its place
(`context`: the event type and case, or a guardian of a case), so a box cannot be moved to another case.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.contracts.sealed import ARCHIVE, NOTIFY, Sealed, SealedSections, sections_context
from shared.crypto import load_key

E = TypeVar("E", bound=SealedSections)

_INFO = b"antibully bus seal v1"


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _kek(shared: bytes, epk: bytes, reader_pub: bytes, reader: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + reader_pub,
                info=_INFO + b" " + reader.encode()).derive(shared)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _load32(value: str, setting: str) -> bytes:
    return load_key(value, setting, "personal data would travel on the bus in clear")


def new_private_key_b64() -> str:
    return _b64(X25519PrivateKey.generate().private_bytes_raw())


def public_key_b64(private_b64: str) -> str:
    return _b64(_raw(X25519PrivateKey.from_private_bytes(_load32(private_b64, "private key")).public_key()))


class Sealing:
    """A producer's side: seals for the readers it was given (public keys only)."""

    def __init__(self, readers: Mapping[str, str]) -> None:
        self._readers = {name: X25519PublicKey.from_public_bytes(_load32(key, f"{name.upper()}_BUS_PUBLIC_KEY"))
                         for name, key in readers.items()}

    @classmethod
    def from_settings(cls, settings: Any) -> Sealing:
        return cls({ARCHIVE: settings.archive_bus_public_key, NOTIFY: settings.notify_bus_public_key})

    def sections(self, event: E) -> E:
        """The event with its personal fields sealed for the archive (and emptied): the producer's last step."""
        fields = type(event).sealed_fields
        section = {f: v for f, v in event.model_dump(mode="json", include=set(fields)).items() if v is not None}
        if not section:
            return event
        box = self.seal(section, sections_context(getattr(event, "event_type", ""), getattr(event, "case_id", ""),
                                                  getattr(event, "event_id", "")))
        return event.model_copy(update={**dict.fromkeys(fields), "personal": box})

    def seal(self, section: Any, context: str, readers: Iterable[str] = (ARCHIVE,)) -> Sealed:
        """`section`: anything JSON can hold (a model's `model_dump(mode="json")`)."""
        plain = json.dumps(section, ensure_ascii=False, separators=(",", ":")).encode()
        dek = AESGCM.generate_key(bit_length=256)
        ephemeral = X25519PrivateKey.generate()
        epk = _raw(ephemeral.public_key())
        aad = context.encode()
        keys = {}
        for reader in readers:
            public = self._readers[reader]
            kek = _kek(ephemeral.exchange(public), epk, _raw(public), reader)
            nonce = os.urandom(12)
            keys[reader] = _b64(nonce + AESGCM(kek).encrypt(nonce, dek, aad))
        nonce = os.urandom(12)
        return Sealed(epk=_b64(epk), keys=keys, ct=_b64(nonce + AESGCM(dek).encrypt(nonce, plain, aad)))


class NotForMe(LookupError):
    """The box holds no data key for this reader (sealed for others only)."""


class Opening:
    """A reader's side: opens boxes sealed for it with its private key."""

    def __init__(self, reader: str, private_b64: str) -> None:
        self.reader = reader
        self._private = X25519PrivateKey.from_private_bytes(
            _load32(private_b64, f"{reader.upper()}_BUS_PRIVATE_KEY"))
        self._public = _raw(self._private.public_key())

    def sections(self, event: E) -> E:
        """The event with its sealed personal fields opened back in place (the archive's copy), validated."""
        if event.personal is None:
            return event
        opened = self.open(event.personal, sections_context(getattr(event, "event_type", ""),
                                                            getattr(event, "case_id", ""),
                                                            getattr(event, "event_id", "")))
        return type(event).model_validate({**event.model_dump(mode="json"), **opened, "personal": None})

    def open(self, box: Sealed, context: str) -> Any:
        """The section; raises NotForMe, or cryptography's InvalidTag when the box was altered or moved."""
        if box.v != 1:
            raise ValueError(f"unknown sealing scheme v{box.v}")
        wrapped = box.keys.get(self.reader)
        if wrapped is None:
            raise NotForMe(self.reader)
        epk = base64.b64decode(box.epk)
        kek = _kek(self._private.exchange(X25519PublicKey.from_public_bytes(epk)), epk, self._public, self.reader)
        raw, aad = base64.b64decode(wrapped), context.encode()
        dek = AESGCM(kek).decrypt(raw[:12], raw[12:], aad)
        body = base64.b64decode(box.ct)
        return json.loads(AESGCM(dek).decrypt(body[:12], body[12:], aad))


_installed: Sealing | None = None


def install(sealing: Sealing) -> None:
    """This process's producer side, from its settings at start-up (like archive's `payloads.use`)."""
    global _installed
    _installed = sealing


def producer() -> Sealing:
    """The installed producer side, else one from the environment's settings."""
    global _installed
    if _installed is None:
        from shared.config import get_settings

        _installed = Sealing.from_settings(get_settings())
    return _installed
