"""The period a summary's figures count (pure): from the campaign's start month to this month, Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.archive.campaign_summaries import campaign_period

pytestmark = pytest.mark.pure


def test_the_period_runs_from_the_start_month_to_this_month_in_shanghai() -> None:
    now = datetime(2027, 6, 30, 17, 0, tzinfo=UTC)  # 1 July in Shanghai
    started = datetime(2027, 2, 28, 16, 30, tzinfo=UTC)  # 1 March in Shanghai
    assert campaign_period(started, now).stated() == {"from": "2027-03", "to": "2027-07"}
    assert campaign_period(None, now).stated() == {"from": "2027-01", "to": "2027-07"}  # not started: this year
    assert campaign_period(datetime(2027, 9, 1, tzinfo=UTC), now).first == date(2027, 7, 1)  # never after now
    long_ago = campaign_period(datetime(2020, 1, 1, tzinfo=UTC), now)
    assert long_ago.first == date(2024, 8, 1) and len(long_ago.months()) == 36  # the ledger's limit
