"""A campaign's progress as files (pure): the CSV per school, phase and duty (UTF-8 with BOM, Chinese headers),
and the ledger workbook's sheet 专项整治 (per campaign, school and phase: done of total, overdue)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.archive.campaign_progress import STATE_ZH, CampaignProgress, DutyProgress
from services.archive.exports import _safe
from services.archive.listing import SHANGHAI

CSV_HEADERS_ZH = ["学校代码", "学校", "阶段", "事项", "状态", "截止", "完成时间", "逾期"]
SHEET_HEADERS_ZH = ["专项整治", "学校代码", "学校", "阶段", "阶段截止", "已完成", "事项数", "逾期事项"]
BUREAU_CODE, BUREAU_NAME = "全部", "教育局（全辖区事项）"


def _local(at: datetime | None) -> str:
    return f"{at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if at is not None else ""


def _duty_row(code: str, name: str, phase_zh: str, d: DutyProgress) -> list[str]:
    return [code, name, phase_zh, d.zh, STATE_ZH.get(d.state, d.state), _local(d.due_at), _local(d.settled_at),
            "是" if d.overdue else "否"]


def progress_rows(p: CampaignProgress) -> list[list[str]]:
    """Each school's duties phase by phase, then the bureau's once-per-campaign duties."""
    zh = {ph.phase_id: ph.zh for ph in p.phases}
    rows = [_duty_row(s.school_id, s.school_name or s.school_id, zh[ph.phase_id], d)
            for s in p.schools for ph in s.phases for d in ph.duties]
    rows += [_duty_row(BUREAU_CODE, BUREAU_NAME, zh[d.phase_id], d) for d in p.campaign_duties]
    return rows


def progress_csv(p: CampaignProgress) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_HEADERS_ZH)
    w.writerows([_safe(c) for c in row] for row in progress_rows(p))
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def sheet_rows(campaigns: Sequence[CampaignProgress]) -> list[list[str | int]]:
    rows: list[list[str | int]] = []
    for p in campaigns:
        due = {ph.phase_id: (ph.zh, _local(ph.due_at)) for ph in p.phases}
        for s in p.schools:
            for ph in s.phases:
                rows.append([p.title_zh, s.school_id, s.school_name or s.school_id, due[ph.phase_id][0],
                             due[ph.phase_id][1], ph.done, ph.total, ph.overdue])
    return rows


def add_campaign_sheet(book: Any, campaigns: Sequence[CampaignProgress], bold: Any) -> None:
    """Sheet 专项整治: per campaign started in the reader's jurisdiction, per school and phase."""
    sheet = book.add_worksheet("专项整治")
    sheet.write_row(0, 0, SHEET_HEADERS_ZH, bold)
    for i, row in enumerate(sheet_rows(campaigns), start=1):
        sheet.write_row(i, 0, row)
    sheet.freeze_panes(1, 3)
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 4, 16)
    sheet.set_column(5, 7, 10)
