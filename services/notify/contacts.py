"""Where a notice goes, and to whom (issue 14: channel credentials resolved inside notify; a guardian's
contact sealed for notify at intake).

An office's recipient names its directory entry; its addresses, robot keys and signing secrets are read
here from notify's own copy of the directory, so they never travel in an event, a stream, a dead letter or
the archive's record. The file is re-read when it changes (the bureau edits it; no restart needed).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag

from shared.bus_seal import NotForMe, Opening
from shared.config import Settings
from shared.contracts.incident import GuardianCard, guardian_context
from shared.contracts.notification import Address, ChannelKind, NotificationRequested, Recipient
from shared.contracts.sealed import NOTIFY
from shared.directory import Directory, DirectoryError, load_directory

log = logging.getLogger("antibully.notify")


class ContactBook:
    def __init__(self, directory_file: Path, opening: Opening | None = None) -> None:
        self.opening = opening  # NOTIFY_BUS_PRIVATE_KEY: opens a guardian's box
        self.path = directory_file
        self._stamp: tuple[int, int] | None = None
        self._directory: Directory | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ContactBook:
        key = settings.notify_bus_private_key
        return cls(settings.directory_file, Opening(NOTIFY, key) if key else None)

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

    def addressed(self, req: NotificationRequested) -> NotificationRequested:
        """A guardian's notice with its box opened: the parent's name to greet, their phone and e-mail (SMS
        first: families read SMS before e-mail), and their own child's name. A box that does not open leaves
        no address, so the notice fails visibly (no_contact) and the duty is chased."""
        box = req.recipient.sealed
        if box is None:
            return req
        try:
            if self.opening is None:
                raise NotForMe("NOTIFY_BUS_PRIVATE_KEY is not set")
            card = GuardianCard.model_validate(self.opening.open(box, guardian_context(req.incident_id)))
        except (NotForMe, InvalidTag, ValueError) as exc:
            log.error("notification %s: the guardian's sealed contact does not open (%s)", req.notification_id,
                      type(exc).__name__)
            return req.model_copy(update={"recipient": req.recipient.model_copy(update={"sealed": None})})
        addresses = [Address(kind=k, to=v) for k, v in ((ChannelKind.sms, card.phone), (ChannelKind.email,
                                                                                         card.email)) if v]
        recipient = Recipient(role=req.recipient.role, display_name=f"{card.name}（{card.relation}）",
                              email=card.email, addresses=addresses)
        child = card.child_name or req.facts.child_name
        return req.model_copy(update={"recipient": recipient,
                                      "facts": req.facts.model_copy(update={"child_name": child})})

    def routes(self, recipient: Recipient) -> list[Address]:
        """The addresses to try, in order: the entry's from the directory, else those the request carries."""
        if recipient.entry is None:
            return recipient.routes()
        directory = self.directory()
        contact = directory.resolve(recipient.entry) if directory else None
        return contact.addresses(recipient.immediate_first) if contact else []
