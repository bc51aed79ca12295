"""The campaign files the bureau may start (`CAMPAIGNS_DIR`, `<id>.toml`), read once at start-up.

A file that does not validate stops the archive with the entry named (like a bad policy at start-up):
a campaign half-understood must not be started.
"""

from __future__ import annotations

from pathlib import Path

from services.archive.campaign_filing import NO_SUCH_CAMPAIGN
from shared.campaign_plan import Campaign, CampaignError, parse_campaign


def load_campaigns(directory: Path) -> dict[str, Campaign]:
    found: dict[str, Campaign] = {}
    for path in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
        campaign = parse_campaign(path.read_text(encoding="utf-8"), str(path))
        if campaign.id != path.stem:
            raise CampaignError(f"{path}: id \"{campaign.id}\" must be the file's name ({path.stem})")
        found[campaign.id] = campaign
    return found


def campaign_of(campaigns: dict[str, Campaign], campaign_id: str) -> Campaign:
    try:
        return campaigns[campaign_id]
    except KeyError:
        raise NO_SUCH_CAMPAIGN from None
