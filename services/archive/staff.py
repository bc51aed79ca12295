"""Who manages whose account (pure): the bureau its jurisdiction's school staff, a school's head its
teachers and counsellors. Nobody else manages accounts; police and stability-office accounts stay with
`antibully officials` (the operators)."""

from __future__ import annotations

from shared.identity import Official, OfficialRole, StaffTitle

HEAD_MANAGES = frozenset({StaffTitle.head_teacher, StaffTitle.counsellor})


def lists_accounts(actor: Official) -> bool:
    return actor.role is OfficialRole.bureau or actor.title is StaffTitle.head


def may_manage(actor: Official, school_jurisdiction: str, school_id: str, title: StaffTitle) -> bool:
    """May `actor` create, or disable, an account with `title` at the school `school_id`?"""
    if actor.role is OfficialRole.bureau:
        return school_jurisdiction == actor.jurisdiction
    if actor.role is OfficialRole.school and actor.title is StaffTitle.head:
        return school_id == actor.school_id and title in HEAD_MANAGES
    return False


def may_see(actor: Official, jurisdiction: str, school_id: str | None) -> bool:
    """Is an account among those `actor` lists (GET /v1/accounts)?"""
    if actor.role is OfficialRole.bureau:
        return jurisdiction == actor.jurisdiction
    return actor.title is StaffTitle.head and school_id is not None and school_id == actor.school_id
