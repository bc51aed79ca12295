"""Control characters are stripped from free text (issue 14): reports, help messages, officials' acts and
letters keep what people type, newlines and tabs included, and lose what no one types."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from services.archive.routes.official_acts import ActRequest
from shared.contracts import IncidentReport
from shared.contracts.help import HelpMessage
from shared.contracts.text import FreeText, strip_controls
from tests.helpers import report

pytestmark = pytest.mark.pure

DIRTY = "第一行\x00\x07\x1b[31m\r\n\t第二行\x7f\x85\u202e\u2066结束"
CLEAN = "第一行[31m\n\t第二行结束"


def test_the_rule() -> None:
    assert strip_controls(DIRTY) == CLEAN
    assert strip_controls("无需改动：emoji 👩‍👧 与全角　空格") == "无需改动：emoji 👩‍👧 与全角　空格"
    assert TypeAdapter(FreeText).validate_python(DIRTY) == CLEAN
    assert strip_controls(42) == 42  # left to the type's own checks


def test_a_report_a_help_message_and_an_act() -> None:
    body = report()
    body["cause"], body["students"][0]["name"] = DIRTY, "李\x00小明"
    parsed = IncidentReport.model_validate(body)
    assert parsed.cause == CLEAN and parsed.students[0].name == "李小明"
    assert HelpMessage.model_validate({"text": DIRTY}).text == CLEAN
    assert ActRequest.model_validate({"act": "police_outcome", "reason": DIRTY}).reason == CLEAN


def test_nothing_but_control_characters_is_empty() -> None:
    # the document's limits hold for the text as sent (schemathesis checks that); what is left is stored
    assert HelpMessage.model_validate({"text": "\x00\x01\u202e"}).text == ""
    with pytest.raises(ValidationError) as refused:
        HelpMessage.model_validate({"text": ""})
    assert refused.value.errors()[0]["type"] == "string_too_short"
