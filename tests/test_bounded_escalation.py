"""Bounded escalation and the duty room's daily digest, as pure rules and texts (no infrastructure)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.escalation.digest import DIGEST_LIMIT, OVERDUE_DIGEST, InDigest, digest_day, digests
from services.escalation.obligations import plan_miss
from services.escalation.repository import Obligation
from services.notify.templates import render, render_short
from shared.config import ROOT
from shared.contracts.duties import Escalating
from shared.directory import load_directory
from tests.helpers import default_policy

pytestmark = pytest.mark.pure

DIRECTORY = load_directory(ROOT / "deploy" / "directory.toml")
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
PERIOD = timedelta(minutes=15)


def _police(chain: list[str]) -> Obligation:
    return Obligation(
        obligation_id=uuid.uuid4(), incident_id=uuid.uuid4(), school_id="demo-school", action_id="contact_police",
        kind="notice", role="police", student_ref=None, notification_id=uuid.uuid4(), ack_required=True,
        state="delivered", due_at=T0, period=PERIOD, step=0, escalate_to=chain)


def _run(ob: Obligation, reminders: int, steps: int) -> list[tuple[int, Escalating, str | None]]:
    """Miss after miss as the watchdog applies them (the next deadline, the step); stops at the digest,
    which the watchdog never looks at again."""
    out = []
    for _ in range(steps):
        now = ob.due_at + timedelta(seconds=30)
        miss = plan_miss(ob, now, reminders)
        out.append((miss.step, miss.escalating, miss.target))
        if miss.escalating == Escalating.digest:
            assert miss.next_due == ob.due_at  # stays overdue since the deadline it missed
            break
        assert miss.next_due == now + PERIOD
        ob = replace(ob, step=miss.step, due_at=miss.next_due)
    return out


def test_a_chain_of_two_and_two_reminders_then_the_digest() -> None:
    assert _run(_police(["police_leader", "bureau_leader"]), reminders=2, steps=10) == [
        (1, Escalating.chain, "police_leader"), (2, Escalating.chain, "bureau_leader"),
        (3, Escalating.reminders, "bureau_leader"), (4, Escalating.reminders, "bureau_leader"),
        (5, Escalating.digest, None)]


def test_without_a_chain_the_owner_is_reminded_a_bounded_number_of_times() -> None:
    assert _run(_police([]), reminders=1, steps=10) == [
        (1, Escalating.chain, "police"), (2, Escalating.reminders, "police"), (3, Escalating.digest, None)]


def test_no_reminders_the_chain_then_the_digest_and_a_lowered_bound_applies_at_once() -> None:
    assert _run(_police(["bureau_leader"]), reminders=0, steps=10) == [
        (1, Escalating.chain, "bureau_leader"), (2, Escalating.digest, None)]
    # a duty at step 4 when the bureau lowers reminders_after_chain to 0 goes to the digest next time
    late = replace(_police(["police_leader", "bureau_leader"]), step=4)
    assert plan_miss(late, T0, 0).escalating == Escalating.digest


def test_the_digest_day_is_counted_in_shanghai() -> None:
    # 08:00 Asia/Shanghai is 00:00 UTC
    assert digest_day(datetime(2026, 11, 30, 23, 59, tzinfo=UTC), "08:00") is None  # 07:59 on Dec 1st
    assert digest_day(datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "08:00") == date(2026, 12, 1)
    assert digest_day(datetime(2026, 12, 1, 15, 59, tzinfo=UTC), "08:00") == date(2026, 12, 1)  # 23:59
    assert digest_day(datetime(2026, 12, 1, 16, 0, tzinfo=UTC), "08:00") is None  # 00:00 on Dec 2nd
    assert digest_day(datetime(2026, 12, 1, 10, 0, tzinfo=UTC), "18:30") is None
    assert digest_day(datetime(2026, 12, 1, 10, 30, tzinfo=UTC), "18:30") == date(2026, 12, 1)


def _duty(n: int, **changes: object) -> InDigest:
    duty = InDigest(case_id=uuid.uuid4(), case_ref=f"AB-{n:08d}", school_id="demo-school",
                    school_name="乐昌市示范中学", action_id="counselling", kind="task", role="school",
                    first_due_at=T0 + timedelta(hours=n), missed=4)
    return replace(duty, **changes)  # type: ignore[arg-type]


def test_one_digest_per_jurisdiction_oldest_first_bounded() -> None:
    duties = [_duty(n) for n in reversed(range(DIGEST_LIMIT + 7))]
    duties.append(_duty(999, kind="notice", role="victim_guardian", action_id="notify_victim_family"))
    duties.append(_duty(0, school_id="other-school", case_ref=None, school_name=None))
    [one] = digests(duties, date(2026, 12, 1), T0, DIRECTORY, default_policy())
    assert one.jurisdiction == "lechang" and one.duties == DIGEST_LIMIT + 9
    assert one.request is not None
    req = one.request
    assert req.purpose == OVERDUE_DIGEST and req.recipient.display_name == "乐昌市教育局值班室"
    assert req.facts.case_ref == "DG-20261201-LECHANG" and req.facts.child_name is None
    items = req.facts.digest
    assert len(items) == DIGEST_LIMIT and req.facts.digest_more == 9
    assert [i.first_due_at for i in items] == sorted(i.first_due_at for i in items)  # the oldest
    assert items[0].zh == "对受害学生开展心理辅导" and items[0].role == "school"
    unknown = next(i for i in items if i.case_ref == duties[-1].case_id.hex[:8].upper())
    assert unknown.school_name == "other-school"  # facts not kept: still listed, by id
    # the same day and jurisdiction make the same notice (a retried transaction sends nothing new)
    [again] = digests(duties, date(2026, 12, 1), T0, DIRECTORY, default_policy())
    assert again.request is not None and again.request.notification_id == req.notification_id
    # a family never told: the school owes it (in person, by phone)
    [few] = digests(duties[-2:], date(2026, 12, 1), T0, DIRECTORY, default_policy())
    assert few.request is not None
    assert [i.role for i in few.request.facts.digest] == ["school", "school"]


def test_nothing_overdue_nothing_to_send_but_the_day_is_decided() -> None:
    [empty] = digests([], date(2026, 12, 1), T0, DIRECTORY, default_policy())
    assert (empty.jurisdiction, empty.duties, empty.request) == ("lechang", 0, None)


def test_the_digest_e_mail_lists_each_duty_and_the_short_text_only_the_count_and_link() -> None:
    duties = [_duty(n) for n in range(DIGEST_LIMIT + 3)]
    [one] = digests(duties, date(2026, 12, 1), T0, DIRECTORY, default_policy())
    assert one.request is not None
    mail = render(one.request)
    assert mail.subject.startswith("【逾期未办汇总】") and f"共 {DIGEST_LIMIT + 3} 项" in mail.subject
    lines = [line for line in mail.body.splitlines() if "｜" in line]
    assert len(lines) == DIGEST_LIMIT
    assert lines[0] == ("1. AB-00000000｜乐昌市示范中学｜对受害学生开展心理辅导｜责任方：学校｜"
                        "原定时限：11月30日 09:00｜已逾期 4 次")
    assert "另有 3 项未列出" in mail.body and "/v1/duties?overdue=true" in mail.body
    short = render_short(one.request, "https://notify.example.cn/ack/t0ken")
    assert short.text == (f"【逾期未办汇总】本辖区共{DIGEST_LIMIT + 3}项职责逾期未办，请督办。"
                          "编号DG-20261201-LECHANG，清单：https://notify.example.cn/ack/t0ken")
    assert "乐昌市示范中学" not in short.text and "AB-" not in short.text  # no school, no case: the count
    assert short.params["link"] == "https://notify.example.cn/ack/t0ken"
