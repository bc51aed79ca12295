"""The policy in force: loaded from its file, reloaded when the file changes, never replaced by a bad one."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from services.escalation.policy import Policy, PolicyError, parse_policy

log = logging.getLogger("antibully.escalation.policy")


class PolicyStore:
    def __init__(self, path: Path, check_every_s: float = 1.0) -> None:
        self.path = path
        self.check_every_s = check_every_s
        self._policy = parse_policy(path.read_text(encoding="utf-8"), str(path))  # a bad file stops start-up
        self._mtime = path.stat().st_mtime_ns
        self._checked = time.monotonic()
        log.info("policy %s in force", self._policy.version)

    def current(self) -> Policy:
        """The policy for a new decision; a changed file is picked up within `check_every_s`."""
        now = time.monotonic()
        if now - self._checked >= self.check_every_s:
            self._checked = now
            self._reload_if_changed()
        return self._policy

    def _reload_if_changed(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
            if mtime == self._mtime:
                return
            self._mtime = mtime
            policy = parse_policy(self.path.read_text(encoding="utf-8"), str(self.path))
        except (OSError, PolicyError) as exc:
            log.error("POLICY NOT RELOADED, %s stays in force: %s", self._policy.version, exc)
            return
        if policy.version == self._policy.version and policy != self._policy:
            log.warning("policy file changed without a new version (%s); decisions will not tell them apart",
                        policy.version)
        log.info("policy %s in force (was %s)", policy.version, self._policy.version)
        self._policy = policy
