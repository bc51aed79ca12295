"""Where a notice goes (brief: channel credentials resolved inside notify).

An office's recipient names its directory entry; its addresses, robot keys and signing secrets are read
here from notify's own copy of the directory, so they never travel in an event, a stream, a dead letter or
the archive's record. The file is re-read when it changes (the bureau edits it; no restart needed).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from shared.contracts.notification import Address, Recipient
from shared.directory import Directory, DirectoryError, load_directory

log = logging.getLogger("antibully.notify")


class ContactBook:
    def __init__(self, directory_file: Path) -> None:
        self.path = directory_file
        self._stamp: tuple[int, int] | None = None
        self._directory: Directory | None = None

    def directory(self) -> Directory | None:
        """The directory as last read; re-read when the file's mtime or size changed. A malformed edit keeps
        the last good copy (the reachability check reports it)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return self._directory
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                self._directory = load_directory(self.path)
            except DirectoryError as exc:
                log.error("directory unreadable, keeping the last good copy: %s", exc)
            self._stamp = stamp
        return self._directory

    def routes(self, recipient: Recipient) -> list[Address]:
        """The addresses to try, in order: the entry's from the directory, else those the request carries."""
        if recipient.entry is None:
            return recipient.routes()
        directory = self.directory()
        contact = directory.resolve(recipient.entry) if directory else None
        return contact.addresses(recipient.immediate_first) if contact else []
