"""Delivery reports (回执) pushed by SMS providers, parsed into codes and ids (pure).

Phone numbers in the reports are dropped after matching (an Aliyun batch call's number is found
by its keyed digest, aliyun_sms.number_message_id): the rest of notify matches a receipt by the
provider's message id (BizId / SerialNo, which `SendResult.message_id` holds) or by our own
idempotency key (Aliyun's out_id). Pydantic's own errors quote the input, so a bad payload
becomes a ReceiptError with a code only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

SHANGHAI = ZoneInfo("Asia/Shanghai")
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text holds no NUL: such a report is not a provider's (422, not a 503)
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]


class ReceiptError(ValueError):
    """The payload is not a report we understand. The message is a code."""


@dataclass(frozen=True)
class Receipt:
    provider: str
    message_id: str  # Aliyun biz_id / Tencent sid: SendResult.message_id of the send
    idempotency_key: str | None  # our notification id, where the provider echoes it (Aliyun out_id)
    delivered: bool
    code: str  # the carrier's status code, e.g. DELIVERED / DELIVRD / MK:0001
    reported_at: datetime | None  # UTC
    # Aliyun's, to match a batch call's number (never kept)
    phone: str | None = field(default=None, repr=False, compare=False)


class _AliyunReport(BaseModel):
    model_config = ConfigDict(extra="ignore")
    success: bool
    err_code: Text = ""
    biz_id: Text
    phone_number: Text | None = None
    out_id: Text | None = None
    report_time: Text | None = None


class _TencentReport(BaseModel):
    model_config = ConfigDict(extra="ignore")
    report_status: Text
    errmsg: Text = ""
    sid: Text
    user_receive_time: Text | None = None


_ALIYUN = TypeAdapter(list[_AliyunReport])
_TENCENT = TypeAdapter(list[_TencentReport])


def _shanghai_time(raw: str | None) -> datetime | None:
    """Both providers report local time (Asia/Shanghai) as 'YYYY-MM-DD HH:MM:SS'."""
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).astimezone(UTC)
    except ValueError:
        return None


def parse_aliyun_report(body: bytes | str) -> list[Receipt]:
    """Aliyun SmsReport (HTTP batch push): a JSON array of reports."""
    try:
        reports = _ALIYUN.validate_json(body)
    except ValidationError:
        raise ReceiptError("aliyun_report_invalid") from None
    return [
        Receipt("aliyun", r.biz_id, r.out_id or None, r.success, r.err_code or ("DELIVERED" if r.success else ""),
                _shanghai_time(r.report_time), r.phone_number)
        for r in reports
    ]


def parse_tencent_report(body: bytes | str) -> list[Receipt]:
    """Tencent SMS status callback: a JSON array of reports; report_status SUCCESS or FAIL."""
    try:
        reports = _TENCENT.validate_json(body)
    except ValidationError:
        raise ReceiptError("tencent_report_invalid") from None
    out = []
    for r in reports:
        if r.report_status not in ("SUCCESS", "FAIL"):
            raise ReceiptError("tencent_report_status_unknown")
        out.append(Receipt("tencent", r.sid, None, r.report_status == "SUCCESS", r.errmsg,
                           _shanghai_time(r.user_receive_time)))
    return out
