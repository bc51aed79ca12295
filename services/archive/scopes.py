"""Who may read which case, and how much of it (pure): management authority, brief 2(4) and 4(3).

- a school account: its own school's cases, with their personal data;
- the bureau: every case of its jurisdiction, with personal data;
- the police: incidents of its jurisdiction referred to the police, with only the students
  involved in what was referred (victims and perpetrators; never bystanders or witnesses);
- the stability office: public-attention incidents of its jurisdiction, without personal data.

A case whose report has not arrived yet (no kind or school known) is in nobody's scope.
The list query (repository.list_cases) applies the same Scope in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.contracts import StudentRole
from shared.identity import Official, OfficialRole


class PersonalView(StrEnum):
    all = "all"            # every student, guardian and free-text fact
    involved = "involved"  # only victims and perpetrators (and the facts of the referred incident)
    none = "none"


INVOLVED_ROLES = frozenset({StudentRole.victim.value, StudentRole.perpetrator.value})


@dataclass(frozen=True)
class Scope:
    """The cases an official may see, as conditions the list query ANDs together."""

    school_id: str | None = None
    jurisdiction: str | None = None
    kinds: frozenset[str] | None = None
    referred_to_police_only: bool = False
    public_attention_only: bool = False


@dataclass(frozen=True)
class CaseFacts:
    """What scoping needs to know of a case (from the projection)."""

    kind: str | None
    school_id: str | None
    jurisdiction: str | None
    referred_to_police: bool
    public_attention_wide: bool


def scope_for(official: Official) -> Scope:
    match official.role:
        case OfficialRole.school:
            return Scope(school_id=official.school_id or "\x00no-school")
        case OfficialRole.bureau:
            return Scope(jurisdiction=official.jurisdiction)
        case OfficialRole.police:
            return Scope(jurisdiction=official.jurisdiction, kinds=frozenset({"incident"}),
                         referred_to_police_only=True)
        case OfficialRole.stability_office:
            return Scope(jurisdiction=official.jurisdiction, kinds=frozenset({"incident"}),
                         public_attention_only=True)


def in_scope(scope: Scope, case: CaseFacts) -> bool:
    if case.kind is None or case.school_id is None:
        return False
    return (
        (scope.school_id is None or case.school_id == scope.school_id)
        and (scope.jurisdiction is None or case.jurisdiction == scope.jurisdiction)
        and (scope.kinds is None or case.kind in scope.kinds)
        and (not scope.referred_to_police_only or case.referred_to_police)
        and (not scope.public_attention_only or case.public_attention_wide)
    )


def personal_view(official: Official) -> PersonalView:
    """How much personal data a role sees in a case already in its scope."""
    match official.role:
        case OfficialRole.school | OfficialRole.bureau:
            return PersonalView.all
        case OfficialRole.police:
            return PersonalView.involved
        case OfficialRole.stability_office:
            return PersonalView.none


def may_read_access_log(official: Official) -> bool:
    """The bureau supervises reads of its jurisdiction's cases; nobody else reads the access log."""
    return official.role is OfficialRole.bureau


def may_read_ledger(official: Official) -> bool:
    """The ledger (台账) is the schools' and the bureau's supervision instrument (brief 2(2), 3, 4).

    The police and the stability office are refused (403), not given a scoped ledger: their scope is
    a selection of incidents (referred, or of wide attention), so counts over it would neither be the
    ledger nor say anything their case list does not; and counts of the jurisdiction's other cases —
    hazards, help requests, incidents not referred to them — are outside their authority.
    """
    return official.role in (OfficialRole.school, OfficialRole.bureau)
