"""The school's report forms (incident, hazard, follow-up): which inputs each has, named by the API's JSON
paths, and the choices of their selects. Pure: `formjson.build` turns a posted form into the body."""

from __future__ import annotations

from collections.abc import Mapping

from services.console.formjson import Built, Kind, build

STUDENT_ROWS = 4
GUARDIAN_ROWS = 2
MEASURE_ROWS = 3
HAZARD_STUDENT_ROWS = 4
FOLLOW_UP_ROWS = 2

# select name → its choices (the API's codes, in the order shown; labels come from labels.ZH)
CHOICES: dict[str, tuple[str, ...]] = {
    "category": ("physical", "verbal", "relational", "cyber", "property", "other"),
    "student_role": ("victim", "perpetrator", "bystander"),
    "injury": ("none", "minor", "serious", "grave"),
    "public_attention": ("none", "local", "wide"),
    "proposed_level": ("general", "minor", "moderate", "severe", "criminal"),
    "hazard_kind": ("early_sign", "hazard_point"),
    "hazard_role": ("at_risk", "involved"),
    "risk_level": ("low", "medium", "high"),
    "resolution": ("no_bullying", "handled_otherwise"),
    "told_how": ("in_person", "phone"),
}

INDICATOR_FLAGS = ("violence", "weapon", "group", "repeated_after_education", "suspected_crime")


def _incident_fields() -> dict[str, Kind]:
    fields: dict[str, Kind] = {
        "occurred_at": "time", "discovered_at": "time", "location": "text", "category": "choice",
        "cause": "text", "course": "text", "reporter.name": "text", "reporter.role": "text",
        "indicators.injury": "choice", "indicators.public_attention": "choice", "proposed_level": "choice"}
    fields.update({f"indicators.{flag}": "bool" for flag in INDICATOR_FLAGS})
    for i in range(STUDENT_ROWS):
        for name in ("ref", "role", "name", "grade", "national_id"):
            fields[f"students.{i}.{name}"] = "choice" if name == "role" else "text"
        for g in range(GUARDIAN_ROWS):
            for name in ("name", "relation", "phone", "email"):
                fields[f"students.{i}.guardians.{g}.{name}"] = "text"
    fields.update({f"measures_taken.{i}": "text" for i in range(MEASURE_ROWS)})
    return fields


def _hazard_fields() -> dict[str, Kind]:
    fields: dict[str, Kind] = {
        "found_at": "time", "kind": "choice", "observed": "text", "risk_level": "choice", "intervention": "text",
        "rectification.plan": "text", "rectification.due_date": "date", "rectification.responsible": "text",
        "client_ref": "text"}
    for i in range(HAZARD_STUDENT_ROWS):
        fields[f"students.{i}.ref"] = "text"
        fields[f"students.{i}.role"] = "choice"
    return fields


def _follow_up_fields() -> dict[str, Kind]:
    fields: dict[str, Kind] = {"facts_changed": "text", "outcome": "text", "propose_closure": "bool"}
    fields.update({f"measures_taken.{i}": "text" for i in range(MEASURE_ROWS)})
    for i in range(FOLLOW_UP_ROWS):
        fields.update({f"counselling.{i}.student_ref": "text", f"counselling.{i}.given_at": "time",
                       f"counselling.{i}.by": "text"})
        fields.update({f"sanctions.{i}.student_ref": "text", f"sanctions.{i}.measure": "text",
                       f"sanctions.{i}.decided_at": "time"})
        fields.update({f"completed.{i}.action": "text", f"completed.{i}.student_ref": "text",
                       f"completed.{i}.done_at": "time", f"completed.{i}.note": "text"})
    return fields


INCIDENT_FIELDS = _incident_fields()
HAZARD_FIELDS = _hazard_fields()
FOLLOW_UP_FIELDS = _follow_up_fields()


def incident(form: Mapping[str, str], school_id: str) -> Built:
    """POST /v1/incidents: the school is the signed-in member of staff's, never an input."""
    return build(form, INCIDENT_FIELDS, {"school_id": school_id})


def hazard(form: Mapping[str, str], school_id: str) -> Built:
    """POST /v1/hazards."""
    # the contract checks the deadline against the finding on the whole rectification
    return build(form, HAZARD_FIELDS, {"school_id": school_id}, at={"rectification": "rectification.due_date"})


def follow_up(form: Mapping[str, str]) -> Built:
    """POST /v1/incidents/{id}/follow-ups: only what was filled in (the API refuses an empty one)."""
    return build(form, FOLLOW_UP_FIELDS)
