"""The city summary's Word document (pure): read back with python-docx; text Word cannot hold is left out."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import docx
import pytest

from services.archive.campaign_summaries import Figures, PhaseInfo, SummaryContent, SummaryStatus
from services.archive.city_summary import city_summary_docx
from services.archive.ledger import Counts, JurisdictionLedger, Ledger, SchoolLedger
from services.archive.summary_reads import CityData

pytestmark = pytest.mark.pure
NOW = datetime(2027, 7, 20, 2, 0, tzinfo=UTC)


def _data(texts: dict[str, SummaryContent | None]) -> CityData:
    counts = Counts(incidents=2, minor=1, severe=1)
    ledger = Ledger(period_from="2027-01", period_to="2027-07", generated_at=NOW, schools=[
        SchoolLedger(school_id="a", school_name="甲校", jurisdiction="lc", totals=counts, months=[]),
        SchoolLedger(school_id="b", school_name="乙校", jurisdiction="lc", totals=Counts(), months=[])],
        jurisdictions=[JurisdictionLedger(jurisdiction="lc", schools=2, totals=counts, months=[])])
    statuses = [SummaryStatus(school_id="a", school_name="甲校", submitted=True, submitted_at=NOW, submitted_by="h",
                              submitted_by_name="王校长", submissions=1),
                SummaryStatus(school_id="b", school_name="乙校", submitted=False)]
    info = PhaseInfo(campaign_id="x", title_zh="专项整治", phase_id="p3", phase_zh="督导检查",
                     phase_due=date(2027, 7, 31))
    return CityData(info, "lc", ledger, statuses, texts, NOW)


def test_the_document_holds_the_figures_the_missing_schools_and_each_text() -> None:
    figures = Figures(period_from="2027-01", period_to="2027-07", counted_at=NOW, totals=Counts(incidents=2))
    content = SummaryContent(achievements="完成排查\x01。\n第二行", problems="问题甲", causes="原因甲",
                             next_steps="下一步甲", figures=figures)
    document = docx.Document(io.BytesIO(city_summary_docx(_data({"a": content}))))
    text = "\n".join(p.text for p in document.paragraphs)
    assert text.startswith("专项整治 督导检查阶段工作总结汇总\n"
                           "管辖区域：lc；阶段：督导检查；阶段截止日期：2027年07月31日")
    assert "成效：完成排查。\n第二行" in text and "下一步：下一步甲" in text and "报送人：王校长" in text
    assert text.split("二、未报送总结的学校")[1].split("三、各校总结")[0].strip() == "乙校（b）"
    rows = [[c.text for c in row.cells] for row in document.tables[0].rows]
    assert rows[1][:2] == ["甲校", "2"] and rows[2][:2] == ["乙校", "0"] and rows[3][:2] == ["全区合计", "2"]


def test_a_text_whose_key_was_destroyed_is_said_to_be_gone() -> None:
    document = docx.Document(io.BytesIO(city_summary_docx(_data({"a": None}))))
    assert "（该总结的内容已按规定销毁，无法显示。）" in [p.text for p in document.paragraphs]
