"""Public disclosure of how a grave case was handled (work plan 二(六), 四(3); issue 16 item 4).

The bureau drafts a notice from a closed severe or criminal incident's record, edits it, two different
bureau officials approve the exact text (each approval re-runs the anonymisation rule,
services/archive/disclosure_rule.py), the second approval publishes it, and a withdrawal takes it off
the public page and feed. Each step is a `DisclosureChanged` in the incident's own chain, so the record
shows what was published and when. The archive publishes it (through its outbox) and records it.

A draft's text may still hold what the rule refuses (it is the bureau's work in progress): it travels
sealed for the archive (`text`), like a withdrawal's reason. Only a published text is in clear
(`public_text`): it is public by then.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints

from shared.contracts.base import IncidentEvent
from shared.contracts.escalation import Level
from shared.contracts.incident import Ref, ShortText
from shared.contracts.sealed import SealedSections
from shared.contracts.text import NO_CONTROLS
from shared.subjects import DISCLOSURE_CHANGED

MAX_TEXT = 5000
DisclosureText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT), NO_CONTROLS]
Month = Annotated[str, StringConstraints(pattern=r"^2\d{3}-(0[1-9]|1[0-2])$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class DisclosureState(StrEnum):
    drafted = "drafted"  # a draft or a new version of its text (approvals start again)
    approved = "approved"  # one bureau official approved this version
    published = "published"  # a second, different one approved it: public now
    withdrawn = "withdrawn"  # off the public page and feed (the record keeps both acts)


DISCLOSURE_STATE_ZH: dict[DisclosureState, str] = {
    DisclosureState.drafted: "草稿",
    DisclosureState.approved: "已有一人审核",
    DisclosureState.published: "已公开",
    DisclosureState.withdrawn: "已撤回",
}


class DisclosureChanged(IncidentEvent, SealedSections):
    """One step of a disclosure of the incident `incident_id`: who did it, on which version of the text."""

    event_type: ClassVar[str] = "DisclosureChanged"
    subject: ClassVar[str] = DISCLOSURE_CHANGED
    sealed_fields: ClassVar[tuple[str, ...]] = ("text", "reason")

    disclosure_id: uuid.UUID
    state: DisclosureState
    version: int = Field(ge=1, description="The text's version this step is about (an edit makes a new one).")
    by: ShortText = Field(description="The bureau official's account.")
    jurisdiction: Ref
    level: Level
    month: Month = Field(description="The incident's month (YYYY-MM): the finest date a notice gives.")
    title: ShortText
    text_sha256: Sha256 = Field(description="Of the version's text: what was approved and published, in clear.")
    approvals: list[ShortText] = Field(default_factory=list, max_length=2,
                                       description="The distinct officials who approved this version so far.")
    published_at: AwareDatetime | None = None
    public_text: DisclosureText | None = Field(default=None, description="published only: the text as the "
                                               "public reads it.")
    text: DisclosureText | None = Field(default=None, description="The version's text; sealed for the archive.")
    reason: DisclosureText | None = Field(default=None, description="withdrawn: why; sealed for the archive.")
