"""Who manages whose account (pure): the bureau its jurisdiction's school staff, a head its teachers and
counsellors, nobody else anyone."""

from __future__ import annotations

import pytest

from services.archive.staff import lists_accounts, may_manage, may_see
from shared.identity import Official, OfficialRole, StaffTitle

pytestmark = pytest.mark.pure


def _official(role: OfficialRole, title: StaffTitle | None = None, school: str | None = None) -> Official:
    return Official(account_id="a", display_name="a", role=role, jurisdiction="lechang", school_id=school,
                    title=title)


BUREAU = _official(OfficialRole.bureau)
HEAD = _official(OfficialRole.school, StaffTitle.head, "demo-school")
TEACHER = _official(OfficialRole.school, StaffTitle.head_teacher, "demo-school")
POLICE = _official(OfficialRole.police)


def test_the_bureau_manages_every_title_within_its_jurisdiction() -> None:
    assert all(may_manage(BUREAU, "lechang", "any-school", t) for t in StaffTitle)
    assert not may_manage(BUREAU, "renhua", "far-school", StaffTitle.counsellor)
    assert may_see(BUREAU, "lechang", None) and not may_see(BUREAU, "renhua", "far-school")


def test_a_head_manages_its_teachers_and_counsellors_only() -> None:
    assert may_manage(HEAD, "lechang", "demo-school", StaffTitle.head_teacher)
    assert may_manage(HEAD, "lechang", "demo-school", StaffTitle.counsellor)
    assert not may_manage(HEAD, "lechang", "demo-school", StaffTitle.head)
    assert not may_manage(HEAD, "lechang", "second-school", StaffTitle.counsellor)
    assert may_see(HEAD, "lechang", "demo-school") and not may_see(HEAD, "lechang", None)


@pytest.mark.parametrize("actor", [TEACHER, POLICE, _official(OfficialRole.stability_office),
                                   _official(OfficialRole.school, StaffTitle.counsellor, "demo-school")])
def test_nobody_else_manages_accounts(actor: Official) -> None:
    assert not lists_accounts(actor)
    assert not any(may_manage(actor, "lechang", "demo-school", t) for t in StaffTitle)
    assert not may_see(actor, "lechang", "demo-school")
