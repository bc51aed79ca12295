"""Free text as people type it, without the characters no one types (issue 14).

Control characters in a report, a help message or an official's reason can break the ledger's exports,
terminal and log viewers, CSV/XLSX readers and e-mail headers, and bidirectional overrides can make a text
read differently from what it says. They are removed after the type's checks, so the limits an API's
document states (lengths, patterns) hold for the text as sent; newlines and tabs stay (a carriage return
before a newline is folded into it).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional embeddings, overrides and isolates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(value: Any) -> Any:
    """The text without control characters; anything that is not a string is left to the type's checks."""
    if not isinstance(value, str):
        return value
    return _CONTROLS.sub("", value.replace("\r\n", "\n"))


NO_CONTROLS = AfterValidator(strip_controls)
# With Field(min_length=…, max_length=…). Where the constraints are in the type, put NO_CONTROLS after them,
# `Annotated[str, StringConstraints(…), NO_CONTROLS]`, so a too long text is refused as a string (the error
# says "characters", not "items").
FreeText = Annotated[str, NO_CONTROLS]
