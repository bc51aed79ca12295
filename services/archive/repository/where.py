"""WHERE clauses built with numbered parameters, within a reader's scope (for listing.py and ledger.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.archive.scopes import Scope


class Where:
    """WHERE conditions with numbered parameters: `?` in each condition takes the next value."""

    def __init__(self, base: tuple[str, ...] = ("kind IS NOT NULL", "school_id IS NOT NULL")) -> None:
        self.parts = list(base)
        self.args: list[Any] = []

    def add(self, sql: str, *values: Any) -> None:
        for v in values:
            self.args.append(v)
            sql = sql.replace("?", f"${len(self.args)}", 1)
        self.parts.append(sql)

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def scope(self, scope: Scope) -> None:
        """The reader's authority (scopes.scope_for), as in_scope checks it for one case."""
        if scope.school_id is not None:
            self.add("school_id = ?", scope.school_id)
        if scope.jurisdiction is not None:
            self.add("jurisdiction = ?", scope.jurisdiction)
        if scope.kinds is not None:
            self.add("kind = ANY(?::text[])", sorted(scope.kinds))
        if scope.referred_to_police_only:
            self.parts.append("referred_to_police")
        if scope.public_attention_only:
            self.parts.append("coalesce(public_attention_wide, false)")

    def sql(self) -> str:
        return " AND ".join(self.parts)


def ledger_where(scope: Scope, school_id: str | None, since: datetime, until: datetime) -> Where:
    """The ledger's cases: in scope, of one school if named, reported within the period; a campaign's part of a
    school is not a case the ledger counts."""
    w = Where()
    w.scope(scope)
    w.parts.append("kind <> 'campaign'")
    if school_id is not None:
        w.add("school_id = ?", school_id)
    w.add("reported_at >= ?", since)
    w.add("reported_at < ?", until)
    return w
