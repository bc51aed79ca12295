"""The policy file: validated on load with the bad entry named, reloaded when changed, never replaced by a bad one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.escalation.policy import PolicyError, accelerated, parse_policy
from services.escalation.policy_store import PolicyStore
from shared.config import ROOT
from shared.contracts import Level

pytestmark = pytest.mark.pure

DEFAULT = (ROOT / "deploy" / "policy" / "default.toml").read_text(encoding="utf-8")


def test_the_default_policy_says_its_deadlines_are_proposals() -> None:
    policy = parse_policy(DEFAULT)
    assert policy.version and "PROPOSALS" in DEFAULT


@pytest.mark.parametrize(("edit", "expected"), [
    (('level = "severe"\nzh = "使用或携带器械"', 'level = "sevire"\nzh = "使用或携带器械"'),
     ['rules[3].level (id "weapon"), line', "'minor', 'serious', 'severe' or 'criminal'"]),
    (("when = { weapon = true }", "when = { wepon = true }"), ['id "weapon"', "'wepon' is not an indicator"]),
    (('deadline = { serious = "24h", severe = "15m", criminal = "15m" }',
      'deadline = { serious = "24h", severe = "soon", criminal = "15m" }'), ["actions[4]", "'15m', '2h' or '3d'"]),
    (('id = "group"', 'id = "weapon"'), ["duplicate rule id(s): weapon"]),
    (('version = "2026.1-default"', 'version = "2026.1-default"\nversoin = "x"'), ["versoin", "Extra inputs"]),
    (("[[rules]]\nid = \"violence\"", "[[rules\nid = \"violence\""), ["line"]),
])
def test_errors_name_the_bad_entry(edit: tuple[str, str], expected: list[str]) -> None:
    old, new = edit
    assert old in DEFAULT
    with pytest.raises(PolicyError) as caught:
        parse_policy(DEFAULT.replace(old, new, 1), "default.toml")
    for part in expected:
        assert part in str(caught.value)


def test_reload_on_change_and_keep_the_old_one_when_the_new_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(DEFAULT, encoding="utf-8")
    store = PolicyStore(path, check_every_s=0)
    assert store.current().version == "2026.1-default"

    path.write_text(DEFAULT.replace('version = "2026.1-default"', 'version = "2026.2"'), encoding="utf-8")
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    assert store.current().version == "2026.2"

    path.write_text(DEFAULT.replace('version = "2026.1-default"', 'version = "2026.3"').replace(
        "when = { weapon = true }", "when = { wepon = true }"), encoding="utf-8")
    os.utime(path, ns=(1, 3_000_000_000_000_000_000))
    assert store.current().version == "2026.2"  # the bad file is refused; the last good one stays


def test_a_bad_file_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(DEFAULT.replace("when = { weapon = true }", "when = { wepon = true }"), encoding="utf-8")
    with pytest.raises(PolicyError, match="wepon"):
        PolicyStore(path)


def test_accelerated_demo_policy_keeps_everything_but_the_clock() -> None:
    fast = parse_policy(accelerated(DEFAULT, 3600))
    slow = parse_policy(DEFAULT)
    assert fast.version == slow.version + "-demo-x3600"
    police = {a.id: a for a in fast.actions}["contact_police"]
    assert police.deadline[Level.severe].total_seconds() == 1  # 15 min / 3600, at least 1 s
    assert {a.id: a.deadline[Level.serious] for a in fast.actions if Level.serious in a.deadline}[
        "report_to_bureau"].total_seconds() == 24
    assert fast.rules == slow.rules and [a.id for a in fast.actions] == [a.id for a in slow.actions]
