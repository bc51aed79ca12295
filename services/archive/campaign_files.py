"""The campaign files the bureau may start (`CAMPAIGNS_DIR`, `<id>.toml`), read once at start-up.

A file that does not validate stops the archive with the entry named (like a bad policy at start-up):
a campaign half-understood must not be started.
"""

from __future__ import annotations

from pathlib import Path

from services.archive.campaign_filing import NO_SUCH_CAMPAIGN
from shared.campaign_plan import Campaign, CampaignError, parse_campaign
from shared.directory import Directory, load_directory


def load_campaigns(directory: Path) -> dict[str, Campaign]:
    found: dict[str, Campaign] = {}
    for path in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
        campaign = parse_campaign(path.read_text(encoding="utf-8"), str(path))
        if campaign.id != path.stem:
            raise CampaignError(f"{path}: id \"{campaign.id}\" must be the file's name ({path.stem})")
        found[campaign.id] = campaign
    return found


def unknown_targets(campaigns: dict[str, Campaign], directory: Directory) -> list[str]:
    """Each duty whose `escalate_to` names someone the directory does not list: `<campaign> duty "<id>": <names>`."""
    out = []
    for c in campaigns.values():
        for d in c.duties:
            if unknown := directory.unknown_targets(set(d.escalate_to)):
                out.append(f'{c.id} duty "{d.id}": {", ".join(sorted(unknown))}')
    return out


def checked_campaigns(directory: Path, directory_file: Path) -> dict[str, Campaign]:
    """The campaign files, each duty's `escalate_to` names checked against the directory (like the policy's):
    a name the directory does not list stops the archive, naming the campaign and the duty."""
    campaigns = load_campaigns(directory)
    if unknown := unknown_targets(campaigns, load_directory(directory_file)):
        raise CampaignError(f"{directory}: escalate_to names that {directory_file} does not list: "
                            + "; ".join(unknown))
    return campaigns


def campaign_of(campaigns: dict[str, Campaign], campaign_id: str) -> Campaign:
    try:
        return campaigns[campaign_id]
    except KeyError:
        raise NO_SUCH_CAMPAIGN from None
