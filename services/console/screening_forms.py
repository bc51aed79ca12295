"""The screening forms' inputs as the archive's JSON, and the campaigns the console offers (pure but for reading
the campaign files, which are deployment configuration like the directory).

Inputs are named by the API's JSON paths (`aspects.3.rectification.due_date`), so that the archive's field
errors land next to the inputs; the archive alone validates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.console.campaigns import campaigns_in
from shared.campaign_plan import Campaign
from shared.contracts.campaign import ASPECT_ZH, Aspect, RecordKind

ASPECTS: list[tuple[int, str, str]] = [(i, a.value, ASPECT_ZH[a]) for i, a in enumerate(Aspect)]
RISK_LEVELS = ("low", "medium", "high")
RECTIFICATION = ("plan", "due_date", "responsible")


def campaigns(path: Path) -> dict[str, Campaign]:
    """The campaign files the archive also loads (`CAMPAIGNS_DIR`); a bad one is the archive's to refuse."""
    return campaigns_in(path)


def screening_phases(campaign: Campaign) -> list[tuple[str, str]]:
    """(phase id, name) of the phases a screening record is due in; every phase if none says so."""
    kinds = {RecordKind.student_screening, RecordKind.school_screening}
    due = [(p.id, p.zh) for p in campaign.phases
           if any(d.phase == p.id and d.fulfilled_by in kinds for d in campaign.duties)]
    return due or [(p.id, p.zh) for p in campaign.phases]


def chosen(found: dict[str, Campaign], campaign_id: str | None, phase_id: str | None) -> tuple[Campaign, str] | None:
    """The campaign and phase asked for (default: the first campaign, its first screening phase), or None."""
    campaign = found.get(campaign_id) if campaign_id else next(iter(found.values()), None)
    if campaign is None:
        return None
    phases = [p for p, _ in screening_phases(campaign)]
    phase = phase_id or phases[0]
    return (campaign, phase) if phase in {p.id for p in campaign.phases} else None


def _text(values: dict[str, str], name: str) -> str | None:
    v = values.get(name, "").strip()
    return v or None


def _number(values: dict[str, str], name: str) -> int | str | None:
    v = values.get(name, "").strip()
    return int(v) if v.isdigit() and len(v) < 10 else (v or None)


def return_body(values: dict[str, str], hazard_ids: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"nothing_found": values.get("nothing_found") in ("on", "true", "1"),
                            "hazard_ids": hazard_ids}
    for name in ("students_screened", "parent_talks"):
        if (n := _number(values, name)) is not None:
            body[name] = n
    if note := _text(values, "note"):
        body["note"] = note
    return body


def screening_body(values: dict[str, str]) -> dict[str, Any]:
    aspects = []
    for i, aspect, _ in ASPECTS:
        item: dict[str, Any] = {"aspect": aspect}
        for name in ("finding", "problem", "risk_level"):
            if v := _text(values, f"aspects.{i}.{name}"):
                item[name] = v
        fix = {k: v for k in RECTIFICATION if (v := _text(values, f"aspects.{i}.rectification.{k}"))}
        if fix:
            item["rectification"] = fix
        aspects.append(item)
    body: dict[str, Any] = {"aspects": aspects}
    if note := _text(values, "note"):
        body["note"] = note
    return body


def form_errors(field_errors: dict[str, str]) -> dict[str, str]:
    """The archive's field errors by input: every `hazard_ids.N` shown at the hazards' list."""
    out: dict[str, str] = {}
    for name, reason in field_errors.items():
        key = "hazard_ids" if name.startswith("hazard_ids.") else name
        out.setdefault(key, reason)
    return out
