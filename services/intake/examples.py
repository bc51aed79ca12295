"""OpenAPI examples: the same JSON files the README's curl commands send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Body


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(__file__).with_name(name).read_text("utf-8"))
    return data


SEVERE_EXAMPLE = _load("example-severe-incident.json")
FOLLOW_UP_EXAMPLE_BODY = _load("example-follow-up.json")

INCIDENT_EXAMPLE = Body(openapi_examples={"severe": {"summary": "A group assault (severe)", "value": SEVERE_EXAMPLE}})
FOLLOW_UP_EXAMPLE = Body(openapi_examples={
    "repeated": {"summary": "Found to be repeated; sanction and counselling", "value": FOLLOW_UP_EXAMPLE_BODY}})
