"""The envelope every event shares: identity, schema version and the case it belongs to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# Namespace for deterministic ids: the same input always yields the same event id, so a
# retried publish or a replayed handler produces a duplicate that every inbox recognises.
ID_NAMESPACE = uuid.UUID("6f1c2a8e-3b0d-4c7e-9a51-2d7f0b3e8c41")


def derive_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(ID_NAMESPACE, "\x1f".join(str(p) for p in parts))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Strict(BaseModel):
    """Refuse unknown fields: a typo in a report must be an error, not silently dropped data."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Event(Strict):
    event_type: ClassVar[str]
    subject: ClassVar[str]

    schema_version: int = Field(default=1, ge=1)
    event_id: uuid.UUID
    occurred_at: AwareDatetime = Field(default_factory=utcnow, description="When this event happened (UTC).")

    @property
    def case_id(self) -> uuid.UUID:
        """The case (incident, hazard or help request) whose record this event belongs to."""
        raise NotImplementedError

    @property
    def routing_subject(self) -> str:
        """The subject this event is published on: its type's subject, or a lane below it (see
        `consumed_on`)."""
        return self.subject

    @classmethod
    def consumed_on(cls) -> str:
        """The filter a consumer of every event of this type subscribes with."""
        return cls.subject


class IncidentEvent(Event):
    incident_id: uuid.UUID

    @property
    def case_id(self) -> uuid.UUID:
        return self.incident_id
