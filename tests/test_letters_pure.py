"""The letters' pure parts: roster rows, batches, a batch through channels with failover, the rules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidTag

from services.archive.letters import approval_problem
from services.intake.letter_batches import batches_for, recipients_of
from services.intake.roster_rows import check_sheet, contact_aad, normalise_phone
from services.notify.channels.base import (
    ChannelError,
    OutboundMessage,
    PermanentError,
    SendResult,
    TransientError,
    send_one_by_one,
)
from services.notify.letter_sending import Parent, send_batch
from services.notify.letters import letter_ref, parse_ref
from shared.contracts.letters import LetterApproved, LetterAudience
from shared.contracts.notification import Address, ChannelKind
from shared.crypto import Sealer, new_key_b64
from shared.identity import Official, OfficialRole
from shared.letter_routes import open_routes

pytestmark = pytest.mark.pure
SEALER = Sealer(new_key_b64(), "TEST")
ROUTES = Sealer(new_key_b64(), "LETTER_CONTACT_KEY")


def test_roster_rows_are_checked_one_by_one_and_keyed_stably() -> None:
    sheet = ("grade,student_ref,relation,phone,email\n七年级,S-1,母亲,+86 138-0000-0001,\n"
             "七年级,S-2,父亲,,a@b.cn\n,S-3,母亲,13800000003,\n七年级,S-1,母亲,13900000009,\n"
             "八年级,,,,\n").encode()
    checks = check_sheet(sheet, "school-a", SEALER)
    assert [(c.row, [e.field for e in c.errors]) for c in checks if c.errors] == [(3, ["grade"]),
                                                                                (4, ["student_ref"])]
    good = [c.roster_row for c in checks if c.roster_row]
    assert [g.phone for g in good] == ["13800000001", None, None]
    again = check_sheet(sheet, "school-a", SEALER)
    assert [c.roster_row.key for c in again if c.roster_row] == [g.key for g in good]  # same parent, same key
    other = check_sheet(sheet, "school-b", SEALER)
    assert not {c.roster_row.key for c in other if c.roster_row} & {g.key for g in good}
    assert "13800000001" not in repr(checks)


@pytest.mark.parametrize(("raw", "phone"), [("13800000001", "13800000001"), ("+8613800000001", "13800000001"),
                                            ("138 0000 0001", "13800000001"), ("12800000001", None), ("1380000", None)])
def test_mainland_mobile_numbers(raw: str, phone: str | None) -> None:
    assert normalise_phone(raw) == phone


def _letter(**audience: list[str]) -> LetterApproved:
    return LetterApproved(event_id=uuid.uuid4(), letter_id=uuid.uuid4(), jurisdiction="lechang", title="家长信",
                          body="正文", audience=LetterAudience(**audience), created_by="a", approved_by="b")


def test_recipients_sms_first_and_batches_with_stable_ids() -> None:
    rows = []
    for i, (phone, email) in enumerate([("13800000001", "x@y.cn"), (None, "z@y.cn"), (None, None)]):
        key = f"key-{i:08d}"
        contact = json.dumps({"phone": phone, "email": email})
        rows.append({"row_key": key, "grade": "七年级", "has_phone": phone is not None, "has_email": email is not None,
                     "contact": SEALER.seal(contact.encode(), contact_aad("s", key))})
    letter = _letter()
    share = recipients_of(rows, "s", SEALER, letter.letter_id, ROUTES)
    recipients = share.recipients
    assert (share.no_contact, share.merged) == (1, 0)
    again = recipients_of(rows, "s", SEALER, letter.letter_id, ROUTES, {"13800000001"})  # a sibling's row
    assert ([r.key for r in again.recipients], again.merged) == (["key-00000001"], 1)
    routes = [open_routes(ROUTES, letter.letter_id, r.key, r.sealed_routes) for r in recipients]
    assert [[(a.kind.value, a.to) for a in r] for r in routes] == [[("sms", "13800000001"), ("email", "x@y.cn")],
                                                                   [("email", "z@y.cn")]]
    assert "1380000" not in json.dumps([r.model_dump(mode="json") for r in recipients])  # sealed on the bus
    with pytest.raises(InvalidTag):  # bound to its parent: not movable to another key
        open_routes(ROUTES, letter.letter_id, recipients[1].key, recipients[0].sealed_routes)
    many = [recipients[0].model_copy(update={"key": f"k-{i:06d}"}) for i in range(1001)]
    batches = batches_for(letter, "s", many)
    assert [len(b.recipients) for b in batches] == [500, 500, 1] and {b.batches for b in batches} == {3}
    assert [b.event_id for b in batches] == [b.event_id for b in batches_for(letter, "s", many)]


class FakeChannel:
    def __init__(self, kind: str, provider: str, refuse: dict[str, ChannelError] | None = None) -> None:
        self.kind, self.provider, self.refuse = kind, provider, refuse or {}
        self.sent: list[str] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.address in self.refuse:
            raise self.refuse[message.address]
        self.sent.append(message.address)
        return SendResult(self.provider, message.idempotency_key)


class FakeBatchChannel(FakeChannel):
    max_batch = 2

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.calls = 0

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ChannelError]:
        self.calls += 1
        return await send_one_by_one(self, messages)


def _compose(key: str, address: Address) -> OutboundMessage:
    return OutboundMessage(address.to, "t", "x", key)


async def test_a_batch_fails_over_per_parent_and_tells_retry_from_failed() -> None:
    aliyun = FakeBatchChannel("sms", "aliyun", {"13800000002": PermanentError("isv.MOBILE_NUMBER_ILLEGAL"),
                                                "13800000003": TransientError("throttled"),
                                                "13800000004": PermanentError("bad")})
    tencent = FakeChannel("sms", "tencent", {"13800000002": PermanentError("bad"),
                                             "13800000003": TransientError("throttled"),
                                             "13800000004": PermanentError("bad")})
    smtp = FakeChannel("email", "smtp", {"bad@y.cn": PermanentError("550")})
    sms = ChannelKind.sms
    parents = [Parent("p1", [Address(kind=sms, to="13800000001")]),
               Parent("p2", [Address(kind=sms, to="13800000002"), Address(kind=ChannelKind.email, to="p2@y.cn")]),
               Parent("p3", [Address(kind=sms, to="13800000003")]),
               Parent("p4", [Address(kind=sms, to="13800000004"), Address(kind=ChannelKind.email, to="bad@y.cn")]),
               Parent("p5", [Address(kind=ChannelKind.email, to="p5@y.cn")])]
    settled = {s.key: s for s in await send_batch({"sms": [aliyun, tencent], "email": [smtp]}, parents, _compose)}
    assert {k: (s.state, s.channel) for k, s in settled.items()} == {
        "p1": ("sent", "sms/aliyun"), "p2": ("sent", "email/smtp"), "p3": ("retry", None), "p4": ("failed", None),
        "p5": ("sent", "email/smtp")}
    assert aliyun.calls == 2  # four SMS in calls of two; only what aliyun refused went on to tencent
    assert tencent.sent == [] and sorted(smtp.sent) == ["p2@y.cn", "p5@y.cn"]
    assert settled["p4"].error == "sms/aliyun:bad,sms/tencent:bad,email/smtp:550"
    assert "1380000" not in repr(settled)


def test_letter_links_name_school_and_key_only() -> None:
    assert parse_ref(letter_ref("demo-school", "abc123")) == ("demo-school", "abc123")
    assert parse_ref("AB-1234") is None


def test_the_author_cannot_approve_and_another_jurisdiction_sees_nothing() -> None:
    def official(account: str, jurisdiction: str = "lechang") -> Official:
        return Official(account_id=account, display_name=account, role=OfficialRole.bureau,
                        jurisdiction=jurisdiction)

    letter = {"jurisdiction": "lechang", "created_by": "a", "approved_by": None, "at": datetime.now(UTC)}
    statuses = [getattr(approval_problem(letter, official(*who)), "status", None)
                for who in [("a",), ("b",), ("b", "shaoguan")]]
    assert statuses == [409, None, 404]
