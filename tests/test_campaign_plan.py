"""The campaign file (shared/campaign_plan.py): the shipped one validates; a bad one names its entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.campaign_plan import CampaignError, Owner, Per, parse_campaign
from shared.contracts.campaign import RecordKind

pytestmark = pytest.mark.pure

SHIPPED = Path(__file__).resolve().parents[1] / "deploy" / "campaigns" / "2027-zhuanxiang.toml"


def test_the_shipped_campaign_has_the_plans_three_phases_and_a_duty_per_record_kind() -> None:
    c = parse_campaign(SHIPPED.read_text("utf-8"), str(SHIPPED))
    assert [(p.id, p.zh, str(p.due)) for p in c.phases] == [
        ("p1", "动员部署和排查", "2027-03-31"), ("p2", "集中整治", "2027-06-30"), ("p3", "督导检查", "2027-07-31")]
    assert {d.fulfilled_by for d in c.duties} >= set(RecordKind)
    assert [d.id for d in c.duties_fulfilled_by(RecordKind.summary, "p3")] == ["phase_summary"]
    assert c.duties_fulfilled_by(RecordKind.summary, "p1") == []
    bureau_once = [d for d in c.duties if d.per is Per.campaign]
    assert all(d.owner is Owner.bureau for d in bureau_once) and bureau_once


@pytest.mark.parametrize(("change", "named"), [
    (('phase = "p3"\nzh = "报送', 'phase = "p9"\nzh = "报送'), 'duty "phase_summary": phase "p9" is not one of'),
    (('due = 2027-06-30', 'due = 2027-06-30\ndue_after_start = "10m"'), "phases[1]"),
    (('fulfilled_by = "training"', 'fulfilled_by = "trainings"'), 'duties[2].fulfilled_by (id "training")'),
    (('owner = "bureau"\nper = "campaign"', 'owner = "school"\nper = "campaign"'), 'duties[4] (id "city_summary")'),
])
def test_a_bad_file_is_refused_naming_the_entry(change: tuple[str, str], named: str) -> None:
    text = SHIPPED.read_text("utf-8")
    assert change[0] in text
    with pytest.raises(CampaignError, match="campaign: ") as err:
        parse_campaign(text.replace(change[0], change[1], 1))
    assert named in str(err.value)
