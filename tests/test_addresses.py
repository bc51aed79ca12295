"""A client address as a rate limit's key: IPv6 by its /64, so a subscriber cannot take a fresh address for
each attempt."""

from __future__ import annotations

import pytest

from shared.addresses import limit_key

pytestmark = pytest.mark.pure


def test_limit_keys() -> None:
    assert limit_key("198.51.100.7") == "198.51.100.7"
    assert limit_key("2001:db8:1:2::1") == limit_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert limit_key("testclient") == "testclient"
