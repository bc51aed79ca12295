"""The campaign files escalation checks at start-up, as it checks the policy: every `escalate_to` name and
office of every `CAMPAIGNS_DIR/*.toml` must be in the directory, or the service does not start (a name
nobody can reach would leave a missed duty told to no one). A start whose plan still names one (a file
changed since, another directory) is not refused: campaign_duties.chain tells the duty room instead."""

from __future__ import annotations

from pathlib import Path

from shared.campaign_files import load_campaigns, unknown_names
from shared.directory import Directory, DirectoryError


def check_campaign_files(campaigns_dir: Path, directory: Directory) -> None:
    for campaign in load_campaigns(campaigns_dir).values():
        if unknown := unknown_names(campaign, directory):
            raise DirectoryError(f"{campaigns_dir / campaign.id}.toml escalates to {sorted(unknown)}, which the "
                                 "directory does not list")
