"""The severity ladder of the work plan (2(4), 2(5)) as pure rules: no I/O here.

Every rule that fires is a reason; the level is the highest one. Issue 4 turns this
built-in rule set into a versioned policy file.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts import Indicators, Injury, Level, PublicAttention, Reason, RecipientRole

POLICY_VERSION = "builtin-2026.1"


@dataclass(frozen=True)
class Rule:
    code: str
    level: Level
    zh: str
    en: str


RULES: dict[str, Rule] = {r.code: r for r in [
    Rule("suspected_crime", Level.criminal, "涉嫌违法犯罪", "suspected crime"),
    Rule("grave_injury", Level.criminal, "造成严重伤害后果", "grave injury"),
    Rule("violence", Level.severe, "实施暴力", "violence used"),
    Rule("weapon", Level.severe, "使用或携带器械", "weapon involved"),
    Rule("repeated_after_education", Level.severe, "屡教不改", "repeated after education"),
    Rule("serious_injury", Level.severe, "造成较重伤害", "serious injury"),
    Rule("minor_injury", Level.serious, "造成轻微伤害", "minor injury"),
    Rule("group", Level.serious, "多人参与", "several perpetrators"),
    Rule("public_attention", Level.serious, "引起社会关注", "public attention"),
    Rule("no_aggravating_indicator", Level.minor, "情节轻微", "no aggravating indicator"),
]}

WIDE_ATTENTION = Reason(code="wide_public_attention", zh="社会关注度高、影响较大", en="wide public attention")

ALWAYS = (RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian, RecipientRole.school)


@dataclass(frozen=True)
class Decision:
    level: Level
    public_attention_wide: bool
    reasons: tuple[Reason, ...]
    roles: tuple[RecipientRole, ...]
    policy_version: str = POLICY_VERSION


def _fired(ind: Indicators) -> list[str]:
    checks = {
        "suspected_crime": ind.suspected_crime,
        "grave_injury": ind.injury == Injury.grave,
        "violence": ind.violence,
        "weapon": ind.weapon,
        "repeated_after_education": ind.repeated_after_education,
        "serious_injury": ind.injury == Injury.serious,
        "minor_injury": ind.injury == Injury.minor,
        "group": ind.group,
        "public_attention": ind.public_attention != PublicAttention.none,
    }
    return [code for code, hit in checks.items() if hit] or ["no_aggravating_indicator"]


def decide(ind: Indicators) -> Decision:
    fired = [RULES[c] for c in _fired(ind)]
    level = max((r.level for r in fired), key=lambda lv: lv.rank)
    wide = ind.public_attention == PublicAttention.wide
    reasons = [Reason(code=r.code, zh=r.zh, en=r.en) for r in fired]
    roles = list(ALWAYS)
    if level.rank >= Level.serious.rank:
        roles += [RecipientRole.bureau, RecipientRole.police]
    if wide:
        reasons.append(WIDE_ATTENTION)
        roles.append(RecipientRole.stability_office)
    return Decision(level, wide, tuple(reasons), tuple(roles))
