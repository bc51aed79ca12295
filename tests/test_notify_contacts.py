"""Notify resolves an office's addresses from its own directory: events name the entry, never a robot's key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.notify.contacts import ContactBook
from shared.config import ROOT
from shared.contracts import RecipientRole
from shared.contracts.notification import Address, ChannelKind, Recipient
from shared.directory import load_directory

pytestmark = pytest.mark.pure
SHIPPED = ROOT / "deploy" / "directory.toml"


def test_every_entry_escalation_names_resolves_back_to_its_contact() -> None:
    directory = load_directory(SHIPPED)
    for name, school in (("bureau", ""), ("police", ""), ("admin", ""), ("school", "demo-school"),
                         ("counsellor", "demo-school"), ("bureau_leader", "demo-school")):
        entry = directory.entry_of(name, school)
        assert directory.resolve(entry) == directory.contact(name, school), entry
    assert directory.resolve("school:nowhere") is None and directory.resolve("contact:nobody") is None
    assert directory.resolve("nonsense") is None and directory.resolve("tribunal") is None


def test_the_robot_key_is_read_in_notify_not_carried(tmp_path: Path) -> None:
    recipient = load_directory(SHIPPED).recipient("bureau", "demo-school", RecipientRole.bureau)
    assert recipient is not None and "demo-bureau-robot" not in recipient.model_dump_json()
    path = tmp_path / "directory.toml"
    path.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    book = ContactBook(path)
    assert book.routes(recipient)[0] == Address(kind=ChannelKind.dingtalk, to="demo-bureau-robot")
    # the bureau rotates its robot: the next notice uses the new key, no restart
    path.write_text(path.read_text(encoding="utf-8").replace("demo-bureau-robot", "rotated-robot:SECnew"),
                    encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert book.routes(recipient)[0].to == "rotated-robot:SECnew"
    # a malformed edit keeps the last good copy
    path.write_text("not toml [", encoding="utf-8")
    assert book.routes(recipient)[0].to == "rotated-robot:SECnew"


def test_an_unknown_entry_has_no_route_and_an_old_request_keeps_its_own() -> None:
    book = ContactBook(SHIPPED)
    assert book.routes(Recipient(role=RecipientRole.official, display_name="x", entry="contact:gone")) == []
    old = Recipient(role=RecipientRole.school, display_name="x", email="head@example.cn")
    assert book.routes(old) == [Address(kind=ChannelKind.email, to="head@example.cn")]
