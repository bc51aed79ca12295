"""The campaign files escalation checks at start-up, as it checks the policy: every `escalate_to` name and
office of every `CAMPAIGNS_DIR/*.toml` must be in the directory, or the service does not start (a name
nobody can reach would leave a missed duty told to no one). A start whose plan still names one (a file
changed since, another directory) is not refused: campaign_duties.chain tells the duty room instead."""

from __future__ import annotations

from pathlib import Path

from services.escalation.campaign_duties import unknown_names
from shared.campaign_plan import parse_campaign
from shared.directory import Directory, DirectoryError


def check_campaign_files(campaigns_dir: Path, directory: Directory) -> None:
    for path in sorted(campaigns_dir.glob("*.toml")):
        campaign = parse_campaign(path.read_text(encoding="utf-8"), str(path))
        if unknown := unknown_names(campaign, directory):
            raise DirectoryError(f"{path} escalates to {sorted(unknown)}, which the directory does not list")
