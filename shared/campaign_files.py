"""The campaign files of a deployment (`CAMPAIGNS_DIR/<id>.toml`), read the same way by every service.

The archive offers them to the bureau, escalation checks them at start-up, the console builds its menus from
them. A name a campaign escalates to, or an office that owes one of its duties, must be in the directory
(like the policy's names): a missed duty told to no one is worse than a service that does not start.
"""

from __future__ import annotations

from pathlib import Path

from shared.campaign_plan import Campaign, CampaignError, parse_campaign
from shared.contracts import RecipientRole
from shared.directory import Directory, Officials


def load_campaigns(directory: Path) -> dict[str, Campaign]:
    """Every campaign file of the folder by id (each named after its id); none if there is no folder."""
    found: dict[str, Campaign] = {}
    for path in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
        campaign = parse_campaign(path.read_text(encoding="utf-8"), str(path))
        if campaign.id != path.stem:
            raise CampaignError(f"{path}: id \"{campaign.id}\" must be the file's name ({path.stem})")
        found[campaign.id] = campaign
    return found


def unknown_names(campaign: Campaign, directory: Directory) -> set[str]:
    """Every escalation name the directory does not know, and every office that is not one of its
    officials' roles."""
    unknown = directory.unknown_targets({n for d in campaign.duties for n in d.escalate_to})
    return unknown | {d.office for d in campaign.duties if d.office and not is_office(d.office, directory)}


def is_office(name: str, directory: Directory) -> bool:
    """An office owes duties as a role (the archive lets its officials discharge them): a directory official."""
    return (name in RecipientRole.__members__ and name in Officials.model_fields
            and directory.contact(name, "") is not None)
