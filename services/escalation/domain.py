"""The decision on a report (pure: no I/O). The rules and deadlines come from the policy file.

Every rule that fires is a reason; the level is the highest one. The required actions are
the policy's actions for that level (and for the flags that fired), each with its deadline.
A late report and a school's lower proposed level are flagged, never silently accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.escalation.policy import ActionKind, Policy
from shared.contracts import IncidentReport, Indicators, Level, Reason, RecipientRole, ReportFacts, StudentRole


@dataclass(frozen=True)
class RequiredAction:
    action_id: str
    kind: ActionKind
    role: RecipientRole
    zh: str
    due_in: timedelta
    ack: bool
    student_ref: str | None = None  # for per-victim actions: the victim's pseudonymous ref


@dataclass(frozen=True)
class Decision:
    level: Level
    flags: tuple[str, ...]
    reasons: tuple[Reason, ...]
    actions: tuple[RequiredAction, ...]
    policy_version: str

    @property
    def public_attention_wide(self) -> bool:
        return "wide_public_attention" in self.flags

    @property
    def roles(self) -> tuple[RecipientRole, ...]:
        """Who must receive a notice, in policy order."""
        return tuple(dict.fromkeys(a.role for a in self.actions if a.kind == ActionKind.notice))


def classify(indicators: Indicators, policy: Policy) -> tuple[Level, tuple[str, ...], tuple[Reason, ...]]:
    fired = [rule for rule in policy.rules if rule.fires(indicators)]
    if not fired:
        d = policy.default_reason
        return Level.minor, (), (Reason(code=d.id, zh=d.zh, en=d.en),)
    level = max((r.level for r in fired), key=lambda lv: lv.rank)
    flags = tuple(dict.fromkeys(f for r in fired for f in r.flags))
    return level, flags, tuple(Reason(code=r.id, zh=r.zh, en=r.en) for r in fired)


def decide(
    report: IncidentReport | ReportFacts, policy: Policy, reported_at: datetime, earlier_cases: tuple[str, ...] = ()
) -> Decision:
    """`earlier_cases`: case references in which a perpetrator of this report already appeared —
    the work plan's "repeated after education", named in the reasons."""
    indicators = report.indicators
    if earlier_cases:
        indicators = indicators.model_copy(update={"repeated_after_education": True})
    level, flags, reasons = classify(indicators, policy)
    extra: list[Reason] = []
    if earlier_cases:
        extra.append(Reason(code="earlier_cases", zh=f"涉事学生此前已涉及：{'、'.join(earlier_cases)}",
                            en=f"a perpetrator appeared before in {', '.join(earlier_cases)}"))
    late = reported_at - report.discovered_at
    if late > policy.timing.late_report_after:
        hours = int(late.total_seconds() // 3600)
        extra.append(Reason(code="late_report", zh=f"迟报：发现后约 {hours} 小时才报告",
                            en=f"late report: about {hours} h after discovery"))
    if report.proposed_level is not None and report.proposed_level.rank < level.rank:
        extra.append(Reason(
            code="under_rated",
            zh=f"学校拟定等级（{policy.level(report.proposed_level).zh}）低于规则认定等级（{policy.level(level).zh}）",
            en=f"school proposed {report.proposed_level.value}, rules say {level.value}"))
    flags += tuple(r.code for r in extra)
    victims = [s.ref for s in report.students if s.role == StudentRole.victim]
    actions: list[RequiredAction] = []
    for action in policy.actions:
        due_in = action.deadline.get(level)
        if due_in is None or (action.only_with_flag and action.only_with_flag not in flags):
            continue
        for ref in (victims if action.per_victim else [None]):
            actions.append(RequiredAction(action.id, action.kind, action.role, action.zh, due_in, action.ack, ref))
    return Decision(level, flags, reasons + tuple(extra), tuple(actions), policy.version)
