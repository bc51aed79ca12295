"""The OpenAPI example for a report: the same one the README's curl sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Body

SEVERE_EXAMPLE: dict[str, Any] = json.loads(Path(__file__).with_name("example-severe-incident.json").read_text("utf-8"))

INCIDENT_EXAMPLE = Body(openapi_examples={"severe": {"summary": "A group assault (severe)", "value": SEVERE_EXAMPLE}})
