"""What the read API answers: the case list, a case's record, the access log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.archive.act_views import ActEntry
from services.archive.duties import DutyView
from services.archive.personal import Personal
from shared.contracts import Reason
from shared.identity import Official


class RecipientStatus(BaseModel):
    notification_id: uuid.UUID
    role: str
    status: str
    reason: str | None
    updated_at: datetime


class TimelineEntry(BaseModel):
    seq: int
    event_type: str
    recorded_at: datetime
    summary: dict[str, Any]
    hash: str


class ChainStatus(BaseModel):
    valid: bool
    length: int
    head: str
    first_broken_seq: int | None


class CaseSummary(BaseModel):
    case_id: uuid.UUID
    case_ref: str | None
    kind: str = Field(description="incident | hazard | help | lookback | campaign")
    school_id: str
    jurisdiction: str | None
    level: str | None = Field(description="An incident's severity; None for other kinds.")
    risk_level: str | None = Field(description="A hazard's risk.")
    status: str = Field(description="open | closed")
    public_attention_wide: bool
    flags: list[str] = Field(description="From escalation: late_report, under_rated, wide_public_attention, …")
    overdue: bool = Field(description="At least one required action missed its deadline.")
    missed_deadlines: int
    referred_to_police: bool
    urgent: bool | None = Field(description="A help request's urgency.")
    converted_incident_id: uuid.UUID | None = Field(description="The incident a help request became.")
    reported_at: datetime
    decided_at: datetime | None


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; None on the last page.")


class CaseRecord(CaseSummary):
    """A case's special record. `incident_id` is the case id (kept from the first version of this API)."""

    incident_id: uuid.UUID
    reasons: list[Reason]
    policy_version: str | None
    recipients: list[RecipientStatus]
    duties: list[DutyView] = Field(default_factory=list, description="Every duty the case owes or owed, by "
                                   "current deadline: who owes it, by when, its state, who discharged it and how.")
    timeline: list[TimelineEntry]
    acts: list[ActEntry] = Field(default_factory=list, description="Officials' acts (what, who, when); their "
                                 "reasons are in `personal.acts` for roles that see personal data.")
    chain: ChainStatus
    personal: Personal | None = Field(
        description="Names, guardian contacts and free-text facts, for roles that may see them; None otherwise.")
    personal_data: PersonalData = Field(description="Whether the case's personal data is sealed or destroyed.")


class PersonalData(BaseModel):
    """Names, contacts and narratives are sealed under the case's own key until retention ends."""

    status: Literal["sealed", "destroyed", "none"]
    destroyed_at: datetime | None = None


class TokenIssued(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds.")
    expires_at: datetime
    official: Official


class AssertionIssued(BaseModel):
    assertion: str = Field(description="`Authorization: Bearer <assertion>` at intake, until expires_at.")
    expires_at: datetime


class AccessLogEntry(BaseModel):
    seq: int
    at: datetime
    account_id: str
    role: str
    action: str = Field(description="list | detail | duties | access_log | ledger | export | disclosure | campaign "
                        "| summaries | summary | trainings | coverage")
    case_id: uuid.UUID | None
    filter: dict[str, Any]
    outcome: str = Field(description="ok | not_found (unknown or outside the reader's scope)")
    purpose: str
    prev_hash: str
    hash: str


class AccessLogPage(BaseModel):
    items: list[AccessLogEntry]
    next_cursor: str | None


def summary_of(case: dict[str, Any]) -> CaseSummary:
    return CaseSummary(**_summary_fields(case))


def _summary_fields(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_id": case["incident_id"], "case_ref": case.get("case_ref"), "kind": case["kind"],
        "school_id": case["school_id"], "jurisdiction": case.get("jurisdiction"), "level": case.get("level"),
        "risk_level": case.get("risk_level"), "status": case.get("status") or "open",
        "public_attention_wide": bool(case.get("public_attention_wide")), "flags": list(case.get("flags") or []),
        "overdue": (case.get("missed_deadlines") or 0) > 0, "missed_deadlines": case.get("missed_deadlines") or 0,
        "referred_to_police": bool(case.get("referred_to_police")), "urgent": case.get("urgent"),
        "converted_incident_id": case.get("converted_incident_id"), "reported_at": case["reported_at"],
        "decided_at": case.get("decided_at"),
    }


def record_of(case: dict[str, Any], **rest: Any) -> CaseRecord:
    return CaseRecord(**_summary_fields(case), incident_id=case["incident_id"], **rest)
