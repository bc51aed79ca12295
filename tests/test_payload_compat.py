"""Events written at schema version 1 read forever; a newer producer's added fields do not dead-letter.

tests/fixtures/payloads_v1 freezes one payload per archived event type, exactly as the code of
2026-11-30 wrote (and the archive sealed) it. The archive is legal evidence, so what it stored must
still read with today's models; and during a rolling upgrade a consumer meets events from a newer
producer, which it reads with `extra="ignore"` (shared/consumer.py, services/archive/reads.py).
Strictness stays where input comes from outside: intake's HTTP body. Never regenerate the fixtures
to make these pass (see tests/fixtures/make_payloads_v1.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.archive.handlers import ARCHIVED_EVENTS
from services.archive.personal import personal_section
from services.archive.reads import _MODELS
from services.archive.scopes import PersonalView
from shared.contracts import IncidentReport
from shared.contracts.base import Event

pytestmark = pytest.mark.pure

FIXTURES = Path(__file__).parent / "fixtures" / "payloads_v1"
MODELS: dict[str, type[Event]] = {m.event_type: m for m in ARCHIVED_EVENTS}
ADDED = "added_by_a_newer_version"
# where a newer producer adds a field: () is the top level, then paths into nested objects
NEWER: dict[str, list[tuple[str | int, ...]]] = {
    "IncidentReported": [(), ("report",), ("report", "students", 0), ("report", "students", 0, "guardians", 0),
                         ("report", "indicators",), ("report", "evidence", 0)],
    "NotificationRequested": [(), ("recipient",), ("recipient", "addresses", 0), ("facts",)],
    "EscalationDecided": [(), ("reasons", 0), ("recipients", 0), ("actions", 0)],
    "FollowUpReported": [(), ("follow_up",), ("follow_up", "sanctions", 0), ("follow_up", "counselling", 0)],
    "HazardReported": [(), ("finding",), ("finding", "students", 0), ("finding", "rectification")],
    "HelpRequested": [(), ("requester",)],
}


def raw(event_type: str) -> bytes:
    return (FIXTURES / f"{event_type}.json").read_bytes()


def with_added(payload: dict[str, Any], paths: list[tuple[str | int, ...]]) -> dict[str, Any]:
    data = copy.deepcopy(payload)
    for path in paths:
        node: Any = data
        for step in path:
            node = node[step]
        node[ADDED] = {"of": "any shape", "n": 1}
    return data


def kept(stored: Any, read: Any) -> bool:
    """Every stored value comes back as stored (a field added later with a default may come back too)."""
    if isinstance(stored, dict):
        return isinstance(read, dict) and all(k in read and kept(v, read[k]) for k, v in stored.items())
    if isinstance(stored, list):
        return isinstance(read, list) and len(stored) == len(read) and all(map(kept, stored, read))
    return bool(stored == read)


def test_every_archived_event_type_has_a_frozen_payload() -> None:
    """A new archived event type needs its frozen payload too, or its first version goes untested."""
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(MODELS)


@pytest.mark.parametrize("event_type", sorted(MODELS))
def test_a_frozen_payload_reads_tolerantly_and_strictly_with_nothing_lost(event_type: str) -> None:
    """What version 1 wrote reads as consumers read (tolerant) and, today, strictly too: no stored
    field is unknown to the model, so nothing is silently dropped, and every value survives the read."""
    model = MODELS[event_type]
    event = model.model_validate_json(raw(event_type), extra="ignore")
    assert model.model_validate_json(raw(event_type)) == event
    assert event.schema_version == 1
    assert kept(json.loads(raw(event_type)), json.loads(event.model_dump_json()))


@pytest.mark.parametrize("event_type", sorted(_MODELS))
def test_the_archive_opens_a_frozen_sealed_payload(event_type: str) -> None:
    """The archive's read path, exactly as reads._personal parses a decrypted payload."""
    plain = raw(event_type)  # what open_payload returns: the bytes model_dump_json() wrote
    event = _MODELS[event_type].model_validate_json(plain, extra="ignore") if plain else None
    assert event is not None and event.event_type == event_type


def test_the_personal_section_builds_from_frozen_payloads() -> None:
    """Opened payloads go on into the personal section an authorised official reads."""
    assert set(_MODELS) <= set(MODELS)
    opened: list[tuple[int, Event | None]] = [
        (seq, _MODELS[t].model_validate_json(raw(t), extra="ignore")) for seq, t in enumerate(sorted(_MODELS), 1)]
    personal = personal_section(PersonalView.all, opened)
    assert personal is not None
    assert {s.name for s in personal.students} == {"李小明", "王强", "赵磊"}
    assert personal.requester is not None and personal.requester.name == "王芳"


@pytest.mark.parametrize("event_type", sorted(NEWER))
def test_a_newer_producers_added_fields_are_ignored_by_consumers_and_refused_strictly(event_type: str) -> None:
    """Rolling upgrade: a field added at the top level or nested must not turn the event into a dead
    letter; the tolerant read yields the very event without it, while a strict read still refuses it
    (one extra_forbidden per added field), so strictness is a choice of the reader, not lost."""
    model, paths = MODELS[event_type], NEWER[event_type]
    newer = json.dumps(with_added(json.loads(raw(event_type)), paths), ensure_ascii=False)
    assert model.model_validate_json(newer, extra="ignore") == model.model_validate_json(raw(event_type))
    with pytest.raises(ValidationError) as refused:
        model.model_validate_json(newer)
    assert sorted((e["type"], e["loc"]) for e in refused.value.errors()) == sorted(
        ("extra_forbidden", (*p, ADDED)) for p in paths)


@pytest.mark.parametrize("where", [(), ("students", 0), ("students", 0, "guardians", 0), ("indicators",)])
def test_intakes_http_body_stays_strict(where: tuple[str | int, ...]) -> None:
    """A school's report with a field intake does not know is refused (a typo must not drop data):
    the tolerance above is for events between our own services only."""
    body = json.loads(raw("IncidentReported"))["report"]
    IncidentReport.model_validate(body)  # the body as it was accepted
    with pytest.raises(ValidationError) as refused:
        IncidentReport.model_validate(with_added(body, [where]))
    assert [(e["type"], e["loc"]) for e in refused.value.errors()] == [("extra_forbidden", (*where, ADDED))]
    with pytest.raises(ValidationError):
        IncidentReport.model_validate_json(json.dumps(with_added(body, [where]), ensure_ascii=False))
