"""`antibully directory check`: is the officials' directory valid, and can every entry be reached
with the channels this deployment has configured? (What notify checks hourly, on demand.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from services.notify.channels import build_channels
from services.notify.reachability import unreachable
from shared.config import Settings
from shared.contracts.notification import ChannelKind
from shared.directory import DirectoryError, load_directory


def configured_kinds(settings: Settings) -> set[ChannelKind]:
    async def kinds() -> set[ChannelKind]:
        async with httpx.AsyncClient() as http:
            return {ChannelKind(k) for k in build_channels(settings, http)}

    return asyncio.run(kinds())


def check(path: Path, settings: Settings) -> tuple[int, list[str]]:
    """(exit code, report lines). Addresses are never printed, only which kinds each entry has."""
    try:
        directory = load_directory(path)
    except DirectoryError as exc:
        return 2, [f"INVALID: {exc}"]
    kinds = configured_kinds(settings)
    lines = [f"directory {path} version {directory.version}, jurisdiction {directory.jurisdiction}",
             f"configured channels: {', '.join(sorted(kinds)) or 'none'}"]
    for label, contact in directory.every_contact().items():
        have = [a.kind.value + ("" if a.kind in kinds else " (not configured)") for a in contact.addresses()]
        lines.append(f"  {label:32} {', '.join(have) or 'NO ADDRESS'}")
    if directory.officials.admin is None:
        lines.append("WARNING: no officials.admin contact: gaps are reported to ops only")
    gaps = unreachable(directory, kinds)
    lines.append(f"UNREACHABLE: {', '.join(gaps)}" if gaps else "OK: every entry has a working channel")
    return (1 if gaps else 0), lines
