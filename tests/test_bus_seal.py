"""Sealed boxes for the bus (pure): only the readers a box was sealed for open it, only in its own place."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from shared.bus_seal import NotForMe, Opening, Sealing, new_private_key_b64, public_key_b64
from shared.contracts.sealed import ARCHIVE, NOTIFY, Sealed

pytestmark = pytest.mark.pure

ARCHIVE_KEY, NOTIFY_KEY = new_private_key_b64(), new_private_key_b64()
SEALING = Sealing({ARCHIVE: public_key_b64(ARCHIVE_KEY), NOTIFY: public_key_b64(NOTIFY_KEY)})
SECTION = {"name": "李小明", "phone": "13800000001"}


def test_each_reader_it_was_sealed_for_opens_it() -> None:
    box = SEALING.seal(SECTION, "guardian:case-1", (ARCHIVE, NOTIFY))
    assert Opening(ARCHIVE, ARCHIVE_KEY).open(box, "guardian:case-1") == SECTION
    assert Opening(NOTIFY, NOTIFY_KEY).open(box, "guardian:case-1") == SECTION
    assert "李小明".encode() not in box.model_dump_json().encode() and "13800000001" not in box.model_dump_json()


def test_a_reader_it_was_not_sealed_for_cannot_open_it() -> None:
    box = SEALING.seal(SECTION, "c", (ARCHIVE,))
    with pytest.raises(NotForMe):
        Opening(NOTIFY, NOTIFY_KEY).open(box, "c")
    # notify's key in the archive's slot: the agreed key differs
    with pytest.raises(InvalidTag):
        Opening(ARCHIVE, NOTIFY_KEY).open(box, "c")


def test_a_box_moved_to_another_place_or_altered_does_not_open() -> None:
    box = SEALING.seal(SECTION, "IncidentReported:case-1")
    with pytest.raises(InvalidTag):
        Opening(ARCHIVE, ARCHIVE_KEY).open(box, "IncidentReported:case-2")
    flipped = box.model_copy(update={"ct": box.ct[:20] + ("A" if box.ct[20] != "A" else "B") + box.ct[21:]})
    with pytest.raises(InvalidTag):
        Opening(ARCHIVE, ARCHIVE_KEY).open(flipped, "IncidentReported:case-1")


def test_every_box_has_its_own_data_key_and_ephemeral_key() -> None:
    one, two = SEALING.seal(SECTION, "c"), SEALING.seal(SECTION, "c")
    assert one.epk != two.epk and one.ct != two.ct and one.keys[ARCHIVE] != two.keys[ARCHIVE]


def test_a_newer_producers_extra_fields_are_tolerated_and_an_unknown_scheme_refused() -> None:
    box = SEALING.seal(SECTION, "c")
    newer = Sealed.model_validate({**box.model_dump(), "kid": "2027-01"})
    assert Opening(ARCHIVE, ARCHIVE_KEY).open(newer, "c") == SECTION
    with pytest.raises(ValueError, match="v2"):
        Opening(ARCHIVE, ARCHIVE_KEY).open(box.model_copy(update={"v": 2}), "c")


def test_missing_or_malformed_keys_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="ARCHIVE_BUS_PUBLIC_KEY is not set"):
        Sealing({ARCHIVE: ""})
    with pytest.raises(ValueError, match="exactly 32 bytes"):
        Opening(NOTIFY, "c2hvcnQ=")
