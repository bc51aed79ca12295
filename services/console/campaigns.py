"""The campaigns an official may pick from (issue 16): the campaign files the services share.

Like the directory (schools.py), a campaign file is deployment configuration, not case data: the console
reads the same files the archive does for its menus rather than asking the archive (which logs each read).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from shared.campaign_files import load_campaigns
from shared.campaign_plan import Campaign
from shared.contracts.campaign import RecordKind


@cache
def campaigns_in(directory: Path) -> dict[str, Campaign]:
    return load_campaigns(directory)


def summary_phase(campaign: Campaign) -> str:
    """The phase a summary is owed for (the campaign file's duty fulfilled by a summary), else the last phase."""
    owed = [d.phase for d in campaign.duties if d.fulfilled_by is RecordKind.summary]
    return owed[0] if owed else campaign.phases[-1].id


def chosen(directory: Path, campaign_id: str | None, phase_id: str | None) -> tuple[Campaign, str] | None:
    """The campaign and phase asked for (defaults: the first campaign, its summary phase); None if unknown."""
    campaigns = campaigns_in(directory)
    campaign = campaigns.get(campaign_id) if campaign_id else next(iter(campaigns.values()), None)
    if campaign is None:
        return None
    phase = phase_id or summary_phase(campaign)
    return (campaign, phase) if phase in {p.id for p in campaign.phases} else None
