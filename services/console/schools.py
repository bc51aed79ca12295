"""The schools an official may pick from (filters, new accounts): the directory the services share.

The directory is deployment configuration, not case data, so the console reads the same file the
archive does rather than asking the archive (which would log a read for a drop-down list).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from services.console.session import Session
from shared.directory import WHOLE_JURISDICTION, Directory, load_directory


@cache
def _directory(path: Path) -> Directory:
    return load_directory(path)


def schools_for(path: Path, session: Session) -> dict[str, str]:
    """School id → name, within the visitor's authority (a school sees only itself)."""
    directory = _directory(path)
    found = {sid: s.name for sid, s in directory.schools.items()
             if directory.jurisdiction_of(sid) == session.jurisdiction}
    if session.school_id is not None:
        found = {sid: name for sid, name in found.items() if sid == session.school_id}
    return found


def school_name(path: Path, school_id: str | None) -> str:
    """A school's name for the pages (its id where the directory does not know it); a duty about the whole
    jurisdiction (a campaign's once-per-campaign duty, `jurisdiction:<j>`) reads as the jurisdiction."""
    if not school_id:
        return "—"
    directory = _directory(path)
    if school_id.startswith(WHOLE_JURISDICTION):
        jurisdiction = school_id.removeprefix(WHOLE_JURISDICTION)
        name = directory.public_name() if jurisdiction == directory.jurisdiction else jurisdiction
        return f"{name}（全辖区）"
    found = directory.schools.get(school_id)
    return found.name if found is not None and found.name else school_id
