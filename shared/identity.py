"""Who an official is, as every service sees it: the archive authenticates, others trust the claims.

Access follows management authority (brief 2(4)): a school sees its own cases, the bureau its
jurisdiction, the police what was referred to them, the stability office public-attention cases.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class OfficialRole(StrEnum):
    school = "school"                    # a school's principal or safety officer
    bureau = "bureau"                    # education bureau staff
    police = "police"                    # the police liaison
    stability_office = "stability_office"


class StaffTitle(StrEnum):
    """Which of a school's staff a school account is (issue 13): what it may do follows from it."""

    head = "head"                  # 校长: manages the school's staff accounts
    head_teacher = "head_teacher"  # 班主任
    counsellor = "counsellor"      # 心理辅导老师


class Official(BaseModel):
    """An authenticated official. `school_id` is set for a school account, never for others."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: str = Field(description="The login name; what audit logs and approvals record.")
    display_name: str
    role: OfficialRole
    jurisdiction: str = Field(description="The bureau's jurisdiction the account belongs to.")
    school_id: str | None = None
    title: StaffTitle | None = Field(default=None, description="Set for a school account, never for others.")
