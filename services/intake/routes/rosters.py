"""A school's guardian roster for the letter to every parent (致家长的一封信): upload (replace), correct
a row, read the summary. Contacts are sealed at rest and never answered back in clear."""

import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.intake import repository_rosters as sql
from services.intake.auth import Principal
from services.intake.deps import ERRORS, IntakeDeps
from services.intake.roster_rows import MAX_ROWS, OPTIONAL, REQUIRED, check_sheet, contact_aad, normalise_phone
from services.intake.roster_xlsx import XLSX, xlsx_as_csv
from shared.crypto import Sealer
from shared.errors import ApiError, FieldError

CSV_EXAMPLE = "grade,class,student_ref,relation,phone,email\n七年级,1班,S-0001,母亲,13800000001,\n"


class RosterRowAnswer(BaseModel):
    row: int
    status: Literal["accepted", "rejected"]
    key: str | None = Field(default=None, description="The row's key, for PATCH /v1/rosters/rows/{key}.")
    errors: list[FieldError] | None = None


class RosterAnswer(BaseModel):
    version: int
    accepted: int
    rejected: int
    without_contact: int
    rows: list[RosterRowAnswer]


class GradeCounts(BaseModel):
    grade: str
    rows: int
    with_phone: int
    with_email: int
    without_contact: int


class WrongRow(BaseModel):
    key: str
    grade: str
    class_name: str | None
    student_ref: str | None = Field(description="Your own reference for the row, as uploaded.")
    relation: str | None
    reported_at: datetime


class RosterSummary(BaseModel):
    version: int
    rows: int
    with_phone: int
    with_email: int
    without_contact: int
    grades: list[GradeCounts]
    reported_wrong: list[WrongRow] = Field(default_factory=list, description="Rows whose letter reached someone "
                                           "who pressed 号码有误: correct them with PATCH (clears the flag).")


class ContactFix(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)


_DOC = ("`Content-Type: text/csv` (UTF-8), or an XLSX workbook (its first sheet). "
        f"Header: `{'`, `'.join(REQUIRED + OPTIONAL)}` (only `grade` required), "
        f"at most {MAX_ROWS} rows. No names: `student_ref` is your own reference. The upload **replaces** your "
        "roster with its accepted rows; rejected rows are named with their errors (fix them and upload again, "
        "or PATCH a row). A row with neither phone nor e-mail is kept and counted as without contact.")


def _sealer(deps: IntakeDeps) -> Sealer:
    if deps.help_sealer is None:
        raise ApiError(503, "unavailable", "Rosters need INTAKE_DATA_KEY.", "系统未配置数据密钥，暂不能接收花名册。")
    return deps.help_sealer


def router(deps: IntakeDeps) -> APIRouter:
    r = APIRouter(tags=["rosters"])
    School = Annotated[Principal, Depends(deps.auth)]  # noqa: N806 - a type alias

    @r.put("/v1/rosters", response_model=RosterAnswer, summary="Upload the school's guardian roster (replaces it)",
           description=_DOC, responses={**ERRORS, 415: ERRORS[422]},
           openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {
               "schema": {"type": "string"}, "example": CSV_EXAMPLE}, XLSX: {"schema": {"type": "string",
                                                                             "format": "binary"}}}}})
    async def upload(request: Request, school: School) -> RosterAnswer:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("text/csv", "application/csv", XLSX):
            raise ApiError(415, "unsupported_media_type", "Send the sheet as text/csv or as an XLSX workbook.",
                           "请以 CSV（Content-Type: text/csv）或 XLSX 格式上传花名册。")
        sealer = _sealer(deps)
        data = await request.body()
        sheet = xlsx_as_csv(data, MAX_ROWS) if media == XLSX else data
        checks = check_sheet(sheet, school.school_id, sealer)
        good = [c.roster_row for c in checks if c.roster_row is not None]
        answers = [RosterRowAnswer(row=c.row, status="accepted", key=c.roster_row.key) if c.roster_row
                   else RosterRowAnswer(row=c.row, status="rejected", errors=c.errors) for c in checks]
        if not good:
            raise ApiError(422, "no_valid_rows", "No row of the sheet is valid; the roster is unchanged.",
                           "表中没有符合要求的行，花名册未更改。",
                           errors=[e for c in checks for e in c.errors][:50])
        records = [(g.key, g.grade, g.class_name, g.phone is not None, g.email is not None,
                    sealer.seal(g.contact_json(), contact_aad(school.school_id, g.key))) for g in good]
        async with deps.pool.acquire() as conn, conn.transaction():
            version = await sql.replace_roster(conn, school.school_id, records)
        return RosterAnswer(version=version, accepted=len(good), rejected=len(checks) - len(good),
                            without_contact=sum(1 for g in good if not (g.phone or g.email)), rows=answers)

    @r.patch("/v1/rosters/rows/{key}", response_model=RosterSummary, responses={**ERRORS, 404: ERRORS[403]},
             summary="Correct one row's contact (e.g. a wrong number a parent reported)")
    async def fix_row(key: str, fix: ContactFix, school: School) -> RosterSummary:
        sealer = _sealer(deps)
        phone = normalise_phone(fix.phone) if fix.phone else None
        errors = []
        if fix.phone and phone is None:
            errors.append(FieldError(field="phone", reason="Not a mainland mobile number.",
                                     reason_zh="手机号码格式不正确。"))
        if fix.email and "@" not in fix.email:
            errors.append(FieldError(field="email", reason="Not an e-mail address.", reason_zh="电子邮箱格式不正确。"))
        if errors:
            raise ApiError(422, "validation_failed", "The request has invalid fields.", "请求中有字段不符合要求。",
                           errors=errors)
        aad = contact_aad(school.school_id, key)
        async with deps.pool.acquire() as conn, conn.transaction():
            sealed = await sql.row_contact(conn, school.school_id, key)
            if sealed is None:
                raise ApiError(404, "not_found", "Your roster has no row with this key.", "花名册中没有该行。")
            kept = json.loads(sealer.open(sealed, aad))
            contact = sealer.seal(json.dumps({**kept, "phone": phone, "email": fix.email or None},
                                             ensure_ascii=False, separators=(",", ":")).encode(), aad)
            await sql.update_row(conn, school.school_id, key, phone is not None, bool(fix.email), contact)
        return await summary(school)

    @r.get("/v1/rosters", response_model=RosterSummary, responses={**ERRORS, 404: ERRORS[403]},
           summary="The school's roster in numbers (never its contacts)")
    async def summary(school: School) -> RosterSummary:
        async with deps.pool.acquire() as conn:
            found = await sql.roster_summary(conn, school.school_id)
            wrong = await sql.wrong_rows(conn, school.school_id)
        if found is None:
            raise ApiError(404, "not_found", "No roster uploaded yet.", "尚未上传花名册。")
        sealer = _sealer(deps)
        reported = []
        for w in wrong:  # the school's own references, so that it knows whose contact to correct
            kept = json.loads(sealer.open(bytes(w["contact"]), contact_aad(school.school_id, w["row_key"])))
            reported.append(WrongRow(key=w["row_key"], grade=w["grade"], class_name=w["class_name"],
                                     student_ref=kept.get("ref"), relation=kept.get("relation"),
                                     reported_at=w["wrong_at"]))
        grades = [GradeCounts(**g) for g in found["grades"]]
        return RosterSummary(version=found["version"], rows=sum(g.rows for g in grades),
                             with_phone=sum(g.with_phone for g in grades),
                             with_email=sum(g.with_email for g in grades),
                             without_contact=sum(g.without_contact for g in grades), grades=grades,
                             reported_wrong=reported)

    return r

