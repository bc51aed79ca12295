"""Officials' acts as a case's record shows them (pure): what, who and when to everyone who sees the case;
the reason and a police outcome (free text, which may name someone) only in the personal section."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field

from services.archive.chain import Entry
from shared.contracts.acts import OfficialActed


class ActEntry(BaseModel):
    seq: int = Field(description="The act's entry in the case's chain.")
    act: str
    official: str = Field(description="The acting official's account.")
    official_role: str
    recorded_at: datetime
    level: str | None = Field(default=None, description="raise_level: the level asked for.")
    due_at: datetime | None = Field(default=None, description="order_follow_up: by when.")
    obligation_id: uuid.UUID | None = Field(default=None, description="waive_duty: the duty.")
    police_case_number: str | None = None


class ActText(BaseModel):
    """An act's own words, for roles that see personal data."""

    seq: int
    act: str
    official: str
    reason: str
    outcome: str | None = None


def act_entries(entries: Iterable[Entry]) -> list[ActEntry]:
    """The acts of a case, in record order, from their clear summaries."""
    return [ActEntry(seq=e.seq, act=s["act"], official=s["official"], official_role=s["official_role"],
                     recorded_at=e.recorded_at, level=s.get("level"), due_at=s.get("due_at"),
                     obligation_id=s.get("obligation_id"), police_case_number=s.get("police_case_number"))
            for e in entries if e.event_type == OfficialActed.event_type and (s := e.summary)]


def act_text(seq: int, event: OfficialActed) -> ActText:
    return ActText(seq=seq, act=event.act.value, official=event.official, reason=event.reason or "",
                   outcome=event.outcome)
