"""The city summary for the higher authority (issue 16, work plan 四(5)) as a Word document in Chinese (pure).

Title (the campaign, the jurisdiction, the phase); the figures from the ledger for the campaign's period so far,
a row per school and the total; the schools that have not submitted; then each school's summary under its name
(成效, 问题, 原因, 下一步). Counts and the schools' own texts only: no case references, no child's data.
"""

from __future__ import annotations

import io
import re

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from services.archive.campaign_summaries import SECTIONS_ZH, SummaryContent
from services.archive.exports import ALL_SCHOOLS_NAME
from services.archive.ledger import Counts
from services.archive.listing import SHANGHAI
from services.archive.summary_reads import CityData
from shared.words import LEDGER_COLUMNS_ZH

# the columns a page can hold (the whole ledger is in its XLSX export)
FIGURE_COLUMNS = ("incidents", "minor", "serious", "severe", "criminal", "hazards", "hazards_rectified",
                  "late_reports", "overdue", "help_requests", "lookbacks")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # Word cannot hold these
FONT = "SimSun"  # 宋体: what Chinese offices expect; Word falls back to any CJK font it has


def title_of(data: CityData) -> str:
    return f"{data.info.title_zh} {data.info.phase_zh}阶段工作总结汇总"


def _cjk(document: object) -> None:
    style = document.styles["Normal"]  # type: ignore[attr-defined]
    style.font.name = FONT
    style.font.size = Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)


def _row(cells: list[str], table: object) -> None:
    row = table.add_row().cells  # type: ignore[attr-defined]
    for cell, text in zip(row, cells, strict=True):
        cell.text = text


def _counts(c: Counts) -> list[str]:
    return [str(getattr(c, f)) for f in FIGURE_COLUMNS]


def _figures_line(content: SummaryContent) -> str:
    f, t = content.figures, content.figures.totals
    return (f"提交时附带的本校数据（{f.period_from} 至 {f.period_to}）：欺凌事件 {t.incidents} 起"
            f"（情节严重 {t.severe} 起，涉嫌违法犯罪 {t.criminal} 起），苗头隐患 {t.hazards} 个"
            f"（已整改 {t.hazards_rectified} 个），迟报 {t.late_reports} 起，"
            f"求助 {t.help_requests} 件，回头看 {t.lookbacks} 次。")


def city_summary_docx(data: CityData) -> bytes:
    doc = Document()
    _cjk(doc)
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2))
    heading = doc.add_heading(title_of(data), level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    due = f"；阶段截止日期：{data.info.phase_due:%Y年%m月%d日}" if data.info.phase_due else ""
    ledger = data.ledger
    doc.add_paragraph(f"管辖区域：{data.jurisdiction}；阶段：{data.info.phase_zh}{due}")
    doc.add_paragraph(f"统计期间：{ledger.period_from} 至 {ledger.period_to}（北京时间，按报告月份）；"
                      f"生成时间：{data.generated_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}。")
    done = [s for s in data.statuses if s.submitted]
    doc.add_paragraph(f"应报送学校 {len(data.statuses)} 所，已报送 {len(done)} 所，"
                      f"未报送 {len(data.statuses) - len(done)} 所。")

    doc.add_heading("一、数据统计（来自台账）", level=1)
    table = doc.add_table(rows=1, cols=len(FIGURE_COLUMNS) + 1)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ["学校", *(LEDGER_COLUMNS_ZH[f] for f in FIGURE_COLUMNS)], strict=True):
        cell.text = text
    for school in ledger.schools:
        _row([school.school_name or school.school_id, *_counts(school.totals)], table)
    for j in ledger.jurisdictions:
        _row([ALL_SCHOOLS_NAME, *_counts(j.totals)], table)

    doc.add_heading("二、未报送总结的学校", level=1)
    missing = [s for s in data.statuses if not s.submitted]
    if not missing:
        doc.add_paragraph("无，全部学校均已报送。")
    for s in missing:
        doc.add_paragraph(f"{s.school_name or s.school_id}（{s.school_id}）", style="List Bullet")

    doc.add_heading("三、各校总结", level=1)
    if not done:
        doc.add_paragraph("尚无学校报送总结。")
    for s in done:
        doc.add_heading(s.school_name or s.school_id, level=2)
        at = f"{s.submitted_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if s.submitted_at else ""
        doc.add_paragraph(f"报送时间：{at}；报送人：{s.submitted_by_name or s.submitted_by or ''}")
        content = data.texts.get(s.school_id)
        if content is None:
            doc.add_paragraph("（该总结的内容已按规定销毁，无法显示。）")
            continue
        for field, zh in SECTIONS_ZH.items():
            p = doc.add_paragraph()
            p.add_run(f"{zh}：").bold = True
            p.add_run(_NOT_XML.sub("", getattr(content, field)))
        doc.add_paragraph(_figures_line(content))
    doc.add_paragraph("本汇总仅含数量统计和学校报送的总结，不含学生及家长个人信息。")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
