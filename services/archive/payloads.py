"""Sealing and opening a case's personal data under its own data key (envelope encryption).

`Payloads(keks)` holds the key-encryption keys (a ring: the current KEK wraps new case keys, and
each stored wrap is opened with the KEK its `kek_id` names; an id the ring lacks is refused) and a
bounded LRU of unwrapped data keys (the unwrap is where a KMS or HSM call would sit). The key row
is read on every call all the same, so a key destroyed by another process is never used from this
process's cache.
The module-level `seal_payload` / `open_payload` use the instance installed with `use()`
(archive's start-up does this), else one built from the environment's settings.
"""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict
from collections.abc import Iterable

from services.archive import envelope, repository
from shared.config import Settings, get_settings
from shared.db import Conn
from shared.keyring import KeyRing

KEK_ID_LABEL = b"antibully-kek-id"  # envelope.key_id: the ids stored since case keys existed


def kek_ring(value: str, setting: str = "ARCHIVE_KEK") -> KeyRing:
    """ARCHIVE_KEK as a ring: one base64 KEK, or `new,old,…` while `antibully rotate archive-kek` runs."""
    if not value.strip():
        raise ValueError(f"{setting} is not set: children's data will not be stored unencrypted")
    return KeyRing.parse(value, setting, size=32, label=KEK_ID_LABEL, id_length=16)


class NoDataKey(LookupError):
    """The case has no data key: nothing was ever sealed for it with this scheme."""


class UnknownKek(LookupError):
    """The case key is wrapped under a KEK this process does not hold (dropped from ARCHIVE_KEK too early)."""


class Payloads:
    def __init__(self, kek: bytes | KeyRing, cache_size: int = 1024) -> None:
        if isinstance(kek, bytes):
            if len(kek) != 32:
                raise ValueError("the archive KEK must be 32 bytes")
            kek = KeyRing("ARCHIVE_KEK", ((envelope.key_id(kek), kek),))
        self.ring = kek
        self._kek = kek.current
        self._kek_id = kek.current_id
        self._cache: OrderedDict[uuid.UUID, bytes] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_settings(cls, settings: Settings) -> Payloads:
        """ARCHIVE_KEK, or ARCHIVE_DATA_KEY where no separate KEK is configured."""
        if settings.archive_kek:
            return cls(kek_ring(settings.archive_kek))
        return cls(kek_ring(settings.archive_data_key, "ARCHIVE_KEK (or ARCHIVE_DATA_KEY)"))

    async def seal_payload(self, conn: Conn, case_id: uuid.UUID, event_id: uuid.UUID, plaintext: bytes) -> bytes:
        """Seal under the case's key, made on first use. Call inside the appending transaction.

        A case whose key was already destroyed keeps no new personal data either: the payload is
        sealed under a throw-away key, so its entry (summary and hash) is recorded but unreadable.
        """
        row = await repository.case_key(conn, case_id, lock=True)
        if row is None:
            dek = envelope.new_dek()
            if await repository.add_case_key(conn, case_id, envelope.wrap(self._kek, case_id, dek), self._kek_id):
                self._remember(case_id, dek)
                return envelope.seal(dek, case_id, event_id, plaintext)
            row = await repository.case_key(conn, case_id, lock=True)
            assert row is not None  # the concurrent insert that beat ours
        if row["wrapped_dek"] is None:
            self._cache.pop(case_id, None)
            return envelope.seal(os.urandom(32), case_id, event_id, plaintext)
        return envelope.seal(self._dek(case_id, bytes(row["wrapped_dek"]), row["kek_id"]), case_id, event_id,
                             plaintext)

    async def open_payload(self, conn: Conn, case_id: uuid.UUID, event_id: uuid.UUID, ct: bytes) -> bytes | None:
        """The plaintext, or None when the case's key has been destroyed.

        Raises NoDataKey for a case without a key, and cryptography's InvalidTag for a ciphertext
        that is not this entry's (altered, or moved from another entry or case).
        """
        row = await repository.case_key(conn, case_id)
        if row is None:
            raise NoDataKey(f"no data key for case {case_id}")
        if row["wrapped_dek"] is None:
            self._cache.pop(case_id, None)
            return None
        return envelope.open_sealed(self._dek(case_id, bytes(row["wrapped_dek"]), row["kek_id"]), case_id, event_id, ct)

    def forget(self, case_ids: Iterable[uuid.UUID]) -> None:
        """Drop destroyed keys from memory at once."""
        for case_id in case_ids:
            self._cache.pop(case_id, None)

    def rewrap(self, case_id: uuid.UUID, wrapped: bytes, kek_id: str) -> bytes:
        """The case key unwrapped with the KEK `kek_id` names and wrapped under the current one."""
        return envelope.wrap(self._kek, case_id, envelope.unwrap(self._kek_for(kek_id), case_id, wrapped))

    def _kek_for(self, kek_id: str) -> bytes:
        kek = self.ring.get(kek_id)
        if kek is None:
            raise UnknownKek(f"case key wrapped under KEK {kek_id}, which ARCHIVE_KEK does not hold "
                             f"(it holds {', '.join(self.ring.ids)})")
        return kek

    def _dek(self, case_id: uuid.UUID, wrapped: bytes, kek_id: str) -> bytes:
        dek = self._cache.get(case_id)
        if dek is None:
            dek = envelope.unwrap(self._kek_for(kek_id), case_id, wrapped)
        self._remember(case_id, dek)
        return dek

    def _remember(self, case_id: uuid.UUID, dek: bytes) -> None:
        self._cache[case_id] = dek
        self._cache.move_to_end(case_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


_installed: Payloads | None = None


def use(payloads: Payloads) -> None:
    """Install the instance the module-level functions use."""
    global _installed
    _installed = payloads


def _current() -> Payloads:
    if _installed is None:
        use(Payloads.from_settings(get_settings()))
    assert _installed is not None
    return _installed


async def seal_payload(conn: Conn, case_id: uuid.UUID, event_id: uuid.UUID, plaintext: bytes) -> bytes:
    return await _current().seal_payload(conn, case_id, event_id, plaintext)


async def open_payload(conn: Conn, case_id: uuid.UUID, event_id: uuid.UUID, ct: bytes) -> bytes | None:
    return await _current().open_payload(conn, case_id, event_id, ct)
