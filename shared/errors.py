"""One error shape for every HTTP answer ≥ 400, in English and Chinese, never echoing input.

    {"error": "validation_failed", "message": "...", "message_zh": "...",
     "errors": [{"field": "indicators.injury", "reason": "...", "reason_zh": "..."}]}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException


class FieldError(BaseModel):
    field: str
    reason: str
    reason_zh: str


class ErrorBody(BaseModel):
    error: str
    message: str
    message_zh: str
    errors: list[FieldError] = []


class ApiError(Exception):
    """Raise from a handler or dependency; becomes an ErrorBody answer."""

    def __init__(self, status: int, code: str, message: str, message_zh: str,
                 headers: dict[str, str] | None = None, errors: list[FieldError] | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.message_zh = status, code, message, message_zh
        self.headers = headers
        self.errors = errors or []

    def response(self) -> JSONResponse:
        body = ErrorBody(error=self.code, message=self.message, message_zh=self.message_zh, errors=self.errors)
        return JSONResponse(body.model_dump(), status_code=self.status, headers=self.headers)


_ZH: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段（请检查字段名）",
    "enum": "取值无效，可选值：{expected}",
    "literal_error": "取值无效，可选值：{expected}",
    "string_too_short": "长度不得少于 {min_length} 个字符",
    "string_too_long": "长度不得超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为字符串",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "list_type": "应为数组",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "timezone_aware": "时间必须带时区，例如 2026-11-28T16:40:00+08:00",
    "datetime_parsing": "时间格式不正确，应为 ISO 8601，例如 2026-11-28T16:40:00+08:00",
    "datetime_from_date_parsing": "时间格式不正确，应为 ISO 8601，例如 2026-11-28T16:40:00+08:00",
    "datetime_type": "应为 ISO 8601 时间",
    "date_parsing": "日期格式不正确，应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式不正确，应为 YYYY-MM-DD",
    "date_type": "应为日期 YYYY-MM-DD",
    "uuid_parsing": "应为 UUID",
    "uuid_type": "应为 UUID",
    "json_invalid": "请求体不是有效的 JSON",
    "json_type": "请求体不是有效的 JSON",
    "value_error": "取值无效",
    # our own (PydanticCustomError) types
    "time_order": "发生时间不得晚于发现时间",
    "time_future": "时间不得晚于当前时间",
    "duplicate_ref": "学生编号在同一报告中不得重复",
    "empty_follow_up": "续报至少应包含一项内容",
    "anonymous_identified": "匿名求助时请不要填写姓名、电话或邮箱",
    "name_missing": "实名求助时请填写姓名",
    "unknown_access_code": "学校求助码无效或已停用",
    "due_before_found": "整改期限不得早于发现日期",
}


def reason_zh(error: dict[str, Any]) -> str:
    template = _ZH.get(error.get("type", ""), "取值无效")
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return template


def field_path(loc: tuple[Any, ...]) -> str:
    if loc and loc[0] == "header":
        return "header." + "-".join(p.capitalize() for p in str(loc[1]).split("-"))
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in ("body", "path", "query") else loc)]
    return ".".join(parts) or "body"


def field_errors(errors: list[Any], prefix: tuple[Any, ...] = ()) -> list[FieldError]:
    return [
        FieldError(field=field_path((*prefix, *e["loc"])), reason=str(e["msg"]), reason_zh=reason_zh(e))
        for e in errors
    ]


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                    errors=field_errors(list(exc.errors()))).response()


_HTTP = {
    401: ("unauthorized", "需要有效的身份凭证。"),
    403: ("forbidden", "无权执行此操作。"),
    404: ("not_found", "未找到。"),
    405: ("method_not_allowed", "不支持此请求方法。"),
    413: ("payload_too_large", "请求体过大。"),
    415: ("unsupported_media_type", "不支持的内容类型。"),
    429: ("rate_limited", "请求过于频繁，请稍后重试。"),
    503: ("unavailable", "服务暂时不可用，请稍后重试。"),
}


async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI: a body that is not UTF-8; the same answer as malformed JSON
        return ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                        errors=[FieldError(field="body", reason="The body is not valid UTF-8 JSON.",
                                           reason_zh=_ZH["json_invalid"])]).response()
    code, zh = _HTTP.get(exc.status_code, ("error", "请求失败。"))
    return ApiError(exc.status_code, code, str(exc.detail), zh, headers=getattr(exc, "headers", None)).response()


async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def on_backend_down(_: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL unreachable mid-request: nothing was accepted, so the client may retry."""
    logging.getLogger("antibully.http").warning("backend unavailable: %s", type(exc).__name__)
    return ApiError(503, "unavailable", "A backend is unavailable; retry later with the same Idempotency-Key.",
                    "后台服务暂时不可用，请使用相同的 Idempotency-Key 稍后重试。",
                    headers={"Retry-After": "5"}).response()
