"""Envelope encryption of a case's personal data, without a database."""

from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.exceptions import InvalidTag

from services.archive import envelope
from shared.crypto import load_key

pytestmark = pytest.mark.pure


def _keys() -> tuple[bytes, bytes, uuid.UUID, uuid.UUID]:
    return envelope.new_dek(), envelope.new_dek(), uuid.uuid4(), uuid.uuid4()


def test_wrapped_key_opens_only_for_its_case_and_kek() -> None:
    kek, dek, case, other_case = _keys()
    wrapped = envelope.wrap(kek, case, dek)
    assert dek not in wrapped and len(dek) == 32
    assert envelope.unwrap(kek, case, wrapped) == dek
    with pytest.raises(InvalidTag):
        envelope.unwrap(kek, other_case, wrapped)  # a key moved to another case's row
    with pytest.raises(InvalidTag):
        envelope.unwrap(envelope.new_dek(), case, wrapped)  # another KEK
    with pytest.raises(InvalidTag):
        envelope.unwrap(kek, case, wrapped[:-1] + bytes([wrapped[-1] ^ 1]))  # altered


def test_payload_opens_only_at_its_place() -> None:
    dek, other_dek, case, event = _keys()
    ct = envelope.seal(dek, case, event, "李小明".encode())
    assert "李小明".encode() not in ct
    assert envelope.open_sealed(dek, case, event, ct).decode() == "李小明"
    for wrong_dek, wrong_case, wrong_event in ((other_dek, case, event), (dek, uuid.uuid4(), event),
                                               (dek, case, uuid.uuid4())):
        with pytest.raises(InvalidTag):
            envelope.open_sealed(wrong_dek, wrong_case, wrong_event, ct)


def test_each_seal_uses_a_fresh_nonce() -> None:
    dek, _, case, event = _keys()
    assert envelope.seal(dek, case, event, b"x") != envelope.seal(dek, case, event, b"x")


def test_keys_from_configuration_are_checked() -> None:
    with pytest.raises(ValueError, match="not set"):
        load_key("", "ARCHIVE_KEK")
    with pytest.raises(ValueError, match="32 bytes"):
        load_key(base64.b64encode(b"short").decode(), "ARCHIVE_KEK")
    key = envelope.new_dek()
    assert load_key(base64.b64encode(key).decode(), "ARCHIVE_KEK") == key
    assert envelope.key_id(key) != envelope.key_id(envelope.new_dek()) and key.hex()[:16] != envelope.key_id(key)
