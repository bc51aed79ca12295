"""The ledger as files bureau staff open (pure): CSV with a UTF-8 BOM, XLSX, and a school's summary in
Chinese Markdown. Column headers are Chinese; cells hold counts, codes and case references only."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.archive.coverage import Coverage, add_coverage_sheet
from services.archive.ledger import (
    ATTENTION_ZH,
    COLUMNS_ZH,
    COUNT_FIELDS,
    AttentionCase,
    Counts,
    Ledger,
    Period,
    SchoolLedger,
    SchoolSummary,
)
from services.archive.letter_exports import add_letters_sheet
from services.archive.listing import SHANGHAI
from shared.sheets import xlsx_workbook

HEADERS_ZH = ["管辖区域", "学校代码", "学校名称", "月份", *COLUMNS_ZH.values()]
TOTAL_MONTH = "合计"
ALL_SCHOOLS = "全部"
ALL_SCHOOLS_NAME = "全区合计"
LEVEL_ZH = {"minor": "情节轻微", "serious": "情节较重", "severe": "情节严重", "criminal": "涉嫌违法犯罪"}
KIND_ZH = {"incident": "欺凌事件", "hazard": "苗头隐患", "help": "求助", "lookback": "回头看", "campaign": "专项整治"}

Cell = str | int | float


def _counts(c: Counts) -> list[Cell]:
    return [_number(getattr(c, f)) for f in COUNT_FIELDS]


def _number(v: int | float) -> int | float:
    """Whole class hours as whole numbers (2, not 2.0): the CSV and the sheet read alike."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def ledger_rows(ledger: Ledger) -> list[list[Cell]]:
    """Per school: its period total (月份 合计), then each month with a case; then each jurisdiction's
    total and months (学校代码 全部)."""
    rows: list[list[Cell]] = []
    for s in ledger.schools:
        head: list[Cell] = [s.jurisdiction, s.school_id, s.school_name or ""]
        rows.append([*head, TOTAL_MONTH, *_counts(s.totals)])
        rows += [[*head, m.month, *_counts(m)] for m in s.months]
    for j in ledger.jurisdictions:
        head = [j.jurisdiction, ALL_SCHOOLS, ALL_SCHOOLS_NAME]
        rows.append([*head, TOTAL_MONTH, *_counts(j.totals)])
        rows += [[*head, m.month, *_counts(m)] for m in j.months]
    return rows


def _safe(cell: Cell) -> Cell:
    """A text cell a spreadsheet would take for a formula is quoted (CSV injection)."""
    return "'" + cell if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def ledger_csv(ledger: Ledger) -> bytes:
    """UTF-8 with a BOM, so that Excel opens the Chinese headers correctly."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(HEADERS_ZH)
    w.writerows([_safe(c) for c in row] for row in ledger_rows(ledger))
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def ledger_xlsx(ledger: Ledger, letters: Sequence[dict[str, Any]] = (), campaigns: Sequence[Any] = (),
                coverages: Sequence[Coverage] = ()) -> bytes:
    """Sheet 台账: the same rows as the CSV; sheet 说明: the period and what each column counts;
    sheet 致家长的信 (when any was approved in the period): the letters to parents, per school;
    sheet 专项整治 (when a campaign was started): per school and phase, duties done of total and overdue;
    sheet 排查覆盖 (when a campaign has screening phases): who is screened, nothing found, or not screened."""
    buf = io.BytesIO()
    book = xlsx_workbook(buf)
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet("台账")
    sheet.write_row(0, 0, HEADERS_ZH, bold)
    for i, row in enumerate(ledger_rows(ledger), start=1):
        sheet.write_row(i, 0, row)  # strings as text (xlsx_workbook): no quote needed, unlike the CSV
    sheet.freeze_panes(1, 4)
    sheet.set_column(0, 3, 14)
    sheet.set_column(4, len(HEADERS_ZH) - 1, 10)
    notes = book.add_worksheet("说明")
    notes.write_row(0, 0, ["统计期间", f"{ledger.period_from} 至 {ledger.period_to}（北京时间，按报告月份）"])
    notes.write_row(1, 0, ["生成时间", _local(ledger.generated_at)])
    notes.write_row(2, 0, ["说明", "仅含数量与案件编号，不含学生及家长个人信息；状态为生成时的状态。"])
    for i, (field, zh) in enumerate(COLUMNS_ZH.items(), start=4):
        notes.write_row(i, 0, [zh, Counts.model_fields[field].description or zh])
    notes.set_column(0, 0, 22)
    notes.set_column(1, 1, 70)
    if letters:
        add_letters_sheet(book, letters, bold)
    if campaigns:  # CampaignProgress of the campaigns started in the reader's jurisdiction
        from services.archive.campaign_exports import add_campaign_sheet

        add_campaign_sheet(book, campaigns, bold)
    if coverages:
        add_coverage_sheet(book, coverages, bold)
    book.close()
    return buf.getvalue()


def _local(at: datetime) -> str:
    return f"{at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def school_summary(school: SchoolLedger, period: Period, attention: list[AttentionCase], truncated: bool,
                   generated_at: datetime) -> SchoolSummary:
    summary = SchoolSummary(
        school_id=school.school_id, school_name=school.school_name, jurisdiction=school.jurisdiction,
        period_from=period.stated()["from"], period_to=period.stated()["to"], generated_at=generated_at,
        totals=school.totals, months=school.months, attention=attention, attention_truncated=truncated,
        report_zh="")
    return summary.model_copy(update={"report_zh": summary_markdown(summary)})


def summary_markdown(s: SchoolSummary) -> str:
    """The school's figures for the bureau's periodic summary, in Chinese."""
    t = s.totals
    name = s.school_name or s.school_id
    lines = [
        f"# {name}（{s.school_id}）防治学生欺凌工作情况",
        "",
        f"统计期间：{s.period_from} 至 {s.period_to}（北京时间，按报告月份）；生成时间：{_local(s.generated_at)}。",
        "",
        "## 总体情况",
        "",
        f"- 欺凌事件 {t.incidents} 起：情节轻微 {t.minor} 起，情节较重 {t.serious} 起，情节严重 {t.severe} 起，"
        f"涉嫌违法犯罪 {t.criminal} 起，等级待认定 {t.undecided} 起。",
        f"- 苗头隐患 {t.hazards} 个：已整改 {t.hazards_rectified} 个，未整改 {t.hazards_open} 个。",
        f"- 迟报 {t.late_reports} 起；逾期未办（当前）{t.overdue_now} 件，曾逾期 {t.overdue} 件；"
        f"屡教不改（重复涉事）{t.repeat_cases} 起。",
        f"- 学生求助 {t.help_requests} 件，其中未回复 {t.help_unanswered} 件，"
        f"未转为欺凌事件 {t.unconverted_tips} 件（学校说明理由后办结的和尚未办结的）。",
        f"- 回头看 {t.lookbacks} 次，其中待完成 {t.lookbacks_due} 次。",
        f"- 防欺凌专题培训 {t.training_sessions} 场，共 {t.training_hours:g} 学时。",
        "",
        "## 分月统计",
        "",
        "| 月份 | " + " | ".join(COLUMNS_ZH.values()) + " |",
        "|" + "---|" * (len(COLUMNS_ZH) + 1),
    ]
    lines += [f"| {m.month} | " + " | ".join(str(cell) for cell in _counts(m)) + " |" for m in s.months]
    lines += ["", "## 需关注的案件", ""]
    if not s.attention:
        lines.append("无。")
    for a in s.attention:
        level = f"，{LEVEL_ZH[a.level]}" if a.level in LEVEL_ZH else ""
        why = "、".join(ATTENTION_ZH[x] for x in a.attention)
        lines.append(f"- {a.case_ref or '（无编号）'}（{KIND_ZH.get(a.kind, a.kind)}{level}，{a.month}）：{why}")
    if s.attention_truncated:
        lines.append("- ……（仅列出部分，完整名单请按条件查询案件列表）")
    lines += ["", "本报告仅含数量与案件编号，不含学生及家长个人信息。", ""]
    return "\n".join(lines)
