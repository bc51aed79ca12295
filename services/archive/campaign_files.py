"""The campaign files the bureau may start (`CAMPAIGNS_DIR`, `<id>.toml`), read once at start-up.

A file that does not validate stops the archive with the entry named (like a bad policy at start-up):
a campaign half-understood must not be started.
"""

from __future__ import annotations

from pathlib import Path

from services.archive.campaign_filing import NO_SUCH_CAMPAIGN
from shared.campaign_files import load_campaigns, unknown_names
from shared.campaign_plan import Campaign, CampaignError
from shared.directory import Directory, load_directory


def unknown_targets(campaigns: dict[str, Campaign], directory: Directory) -> list[str]:
    """Each duty whose `escalate_to` (or office) names someone the directory does not list:
    `<campaign> duty "<id>": <names>`."""
    out = []
    for c in campaigns.values():
        for d in c.duties:
            named = set(d.escalate_to) | ({d.office} if d.office else set())
            if unknown := named & unknown_names(c, directory):
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


__all__ = ["campaign_of", "checked_campaigns", "load_campaigns", "unknown_targets"]
