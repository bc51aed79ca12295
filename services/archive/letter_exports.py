"""The letters sheet of the ledger export (pure): per letter and school, the delivery figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.archive.listing import SHANGHAI

LETTER_COLUMNS_ZH = {
    "title": "信件标题", "approved_at": "审核发送时间", "school_id": "学校代码", "has_roster": "已上传花名册",
    "recipients": "应发送家长数", "sent": "已发送", "failed": "发送失败", "no_contact": "无联系方式",
    "by_sms": "短信", "by_email": "电子邮件", "read": "已阅", "wrong_number": "号码有误",
    "delivered": "短信已送达", "undelivered": "短信未送达",
}
NOTE_ZH = ("“已发送”指短信或邮件服务商已接收；“无联系方式”指花名册中既无手机号码也无电子邮箱的家长；"
           "“已阅”指家长在信件页面点击“已阅”的人数（每位家长只计一次）；“号码有误”指收信人反馈并非本人、待学校更正的数量。")


def letter_rows(rows: Sequence[dict[str, Any]]) -> list[list[str | int]]:
    out: list[list[str | int]] = []
    for r in rows:
        approved = r["approved_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if r["approved_at"] else ""
        out.append([str(r["title"]), approved, str(r["school_id"]), "是" if r["has_roster"] else "否",
                    *(int(r[k]) for k in ("recipients", "sent", "failed", "no_contact", "by_sms", "by_email",
                                          "read", "wrong_number", "delivered", "undelivered"))])
    return out


def add_letters_sheet(book: Any, rows: Sequence[dict[str, Any]], bold: Any) -> None:
    """Sheet 致家长的信 of the ledger workbook (made by shared.sheets.xlsx_workbook: a title is text, never a
    formula or a link)."""
    sheet = book.add_worksheet("致家长的信")
    sheet.write_row(0, 0, list(LETTER_COLUMNS_ZH.values()), bold)
    for i, row in enumerate(letter_rows(rows), start=1):
        sheet.write_row(i, 0, row)
    sheet.write_row(len(rows) + 2, 0, ["说明", NOTE_ZH])
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 2, 16)
