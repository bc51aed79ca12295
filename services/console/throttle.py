"""A small per-key sliding window, for the login form (the archive's own lock guards each name)."""

from __future__ import annotations

import time
from collections import deque


class Throttle:
    def __init__(self, limit: int, window_s: float, max_keys: int = 10_000) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._seen: dict[str, deque[float]] = {}

    def acquire(self, key: str, now: float | None = None) -> float | None:
        """None when allowed (and counted); otherwise seconds to wait."""
        now = time.monotonic() if now is None else now
        if len(self._seen) >= self.max_keys and key not in self._seen:
            self._seen.clear()  # a flood of addresses: forget, rather than grow without bound
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.window_s:
            seen.popleft()
        if len(seen) >= self.limit:
            return seen[0] + self.window_s - now
        seen.append(now)
        return None
