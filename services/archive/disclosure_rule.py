"""The anonymisation rule of a public disclosure (pure): what a notice of a grave case may not say.

Work plan 四(3): publish how grave incidents were handled while protecting the victim's privacy and
without sensational detail. The rule refuses, with every finding's place in the text:

- `personal`: the case's personal data — each student's, guardian's and the reporter's name (the full
  name, or the given name of two characters or more: 王同学 / 王某某 stay possible), the school's
  student refs, phone numbers, e-mail addresses — and any phone number, e-mail or national id at all;
- `class`: a class (七年级3班, 初二(3)班, 3班);
- `date`: a date or time finer than a month (2026年11月3日, 11月3日, 3号, 2026-11-03, 周三, 上午, 14:30,
  上旬, 昨天);
- `location`: the school's name (or its distinctive part) and address, the report's location, street
  addresses and places in a school (宿舍, 厕所, 操场, 3楼 …);
- `quasi_identifier`: combinations that could single out a child in a small school (the model below);
- `placeholder`: a 【待填写…】 the draft left for the bureau to fill in.

Quasi-identifiers: a grade (初二, 七年级, 高一), a gender (女生, 男孩), an age (13岁) and a special status
(留守儿童, 单亲, 残疾, 转学生 …) each narrow the group a child hides in. With the school's enrolment known
(`students` in deploy/directory.toml), the group is estimated as students ÷ 6 for a grade, ÷ 2 for a
gender, ÷ 3 for an age, ÷ 5 for a status, and any mention is refused when fewer than K = 20 remain.
Without an enrolment, one kind alone passes and two kinds together are refused. The combination is
counted over the whole text (a grade in one sentence and a gender in another still combine).

Known limits: names are refused as the record spells them (a nickname, a misspelling or a name the
record never held — a teacher's, say — is not found); the place words are a list, not understanding.
The two approvals are there for what a rule cannot see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

K = 20
DIVISORS = {"grade": 6, "gender": 2, "age": 3, "status": 5}
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙",
                     "宇文", "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "单于", "申屠",
                     "太史", "澹台", "公冶", "呼延", "赫连", "钟离", "闻人", "万俟")

CATEGORY_ZH = {
    "personal": "个人信息", "class": "班级", "date": "具体日期或时间", "location": "具体地点",
    "quasi_identifier": "可识别学生的组合信息", "placeholder": "待填写内容",
}
CATEGORY_EN = {
    "personal": "personal data of the case", "class": "a class", "date": "a date or time finer than a month",
    "location": "location detail", "quasi_identifier": "a combination that could single out a child",
    "placeholder": "a placeholder left to fill in",
}

FIX_ZH = {"": "请删除或概括表述", "placeholder": "请填写后删除该标记"}

_CN_NUM = "一二三四五六七八九十两"
_PATTERNS: dict[str, tuple[str, ...]] = {
    "personal": (
        r"(?<!\d)1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)",  # a mainland mobile number
        r"(?<!\d)\+?\d[\d -]{6,}\d(?!\d)",  # any long number (a phone, an id)
        r"[^@\s，。、；：（）()]{1,64}@[^@\s，。、；：（）()]+\.[A-Za-z]{2,}",  # an e-mail address
        r"(?<![0-9A-Za-z])G?\d{17}[\dXx](?![0-9A-Za-z])",  # a national id / student number
    ),
    "class": (
        r"\d+\s*班(?!主任|会|干部)",
        rf"[{_CN_NUM}]+\s*班(?!主任|会|干部)",
        r"[（(]\s*\d+\s*[)）]\s*班",
    ),
    "date": (
        r"\d{2,4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*[日号]?",
        r"\d{1,2}\s*月\s*\d{1,2}\s*[日号]",
        rf"[{_CN_NUM}]{{1,3}}月[初]?[{_CN_NUM}廿卅]{{1,3}}[日号]",
        r"(?<![\d月])\d{1,2}\s*[日号](?!码)",
        r"(?:周|星期|礼拜)[一二三四五六日天末]",
        r"\d{1,2}\s*[:：]\s*\d{2}",
        r"\d{1,2}\s*[点时](?:\s*\d{1,2}\s*分|半|许|左右)?",
        rf"[{_CN_NUM}]{{1,3}}(?:点钟|点半|点多|时许|点左右)",
        r"上午|下午|中午|晚上|早上|清晨|凌晨|傍晚|夜间|深夜|午休|晚自习|早读|课间|放学|上学途中|[上中下]旬",
        r"昨天|今天|前天|明天|当天|当日|次日|昨日|今日|当晚|当晚|前一天",
    ),
    "location": (
        r"宿舍|寝室|厕所|卫生间|洗手间|操场|运动场|教室|食堂|走廊|楼梯|楼道|天台|实验室|图书馆|体育馆|器材室"
        r"|校门|围墙|小卖部|停车场|车棚|教学楼|办公楼|综合楼|宿舍楼|球场|花园|后山|网吧|公交站|车站",
        r"\d+\s*(?:号楼|栋|幢|单元|层|室|房间?|寝|楼(?!梯))",
        rf"[{_CN_NUM}]\s*(?:号楼|栋|幢|单元|层)",
        r"[\u4e00-\u9fa5]{1,8}(?:路|街|大道|巷|弄|胡同)\s*\d+\s*号?",
        r"(?<![\d])\d+\s*号(?!码|文)",
    ),
    "placeholder": (r"【待填写[^】]*】?",),
}
_QI_PATTERNS: dict[str, str] = {
    "grade": rf"[{_CN_NUM}]年级|\d\s*年级|[初高]中?[一二三](?:年级)?(?![十百千万])|七年级|八年级|九年级",
    "gender": r"男生|女生|男孩|女孩|男同学|女同学|男学生|女学生|男性|女性|男童|女童",
    "age": rf"\d{{1,2}}\s*周?岁|[{_CN_NUM}]{{1,3}}周?岁",
    "status": r"留守|单亲|孤儿|残疾|随班就读|少数民族|建档立卡|低保|转学生|插班生|借读|寄宿生|特困",
}
_COMPILED = {cat: [re.compile(p) for p in pats] for cat, pats in _PATTERNS.items()}
_QI = {kind: re.compile(p) for kind, p in _QI_PATTERNS.items()}


@dataclass(frozen=True)
class Sensitive:
    """What of this case must never be in its notice (from the decrypted personal section and the directory)."""

    names: frozenset[str] = frozenset()  # students', guardians', the reporter's, follow-ups' names
    refs: frozenset[str] = frozenset()  # the school's student refs
    contacts: frozenset[str] = frozenset()  # phone numbers, e-mail addresses
    places: frozenset[str] = frozenset()  # the school's name and address, the report's location
    students: int | None = None  # the school's enrolment (directory), for the quasi-identifier model


@dataclass(frozen=True)
class Finding:
    category: str
    start: int  # character offsets in the text, end exclusive
    end: int
    match: str
    detail: str = ""  # e.g. the quasi-identifier combination

    @property
    def reason(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        fix = "fill it in" if self.category == "placeholder" else "remove or generalise it"
        return f"Characters {self.start + 1}–{self.end}: {CATEGORY_EN[self.category]}{extra}; {fix}."

    @property
    def reason_zh(self) -> str:
        extra = f"（{self.detail}）" if self.detail else ""
        where = f"第 {self.start + 1}–{self.end} 字“{self.match}”"
        return f"{where}：{CATEGORY_ZH[self.category]}{extra}，{FIX_ZH.get(self.category, FIX_ZH[''])}。"


@dataclass
class _Found:
    items: dict[tuple[str, int, int], Finding] = field(default_factory=dict)

    def add(self, category: str, start: int, end: int, text: str, detail: str = "") -> None:
        self.items.setdefault((category, start, end), Finding(category, start, end, text[start:end], detail))


def given_name(name: str) -> str | None:
    """The given name the rule refuses on its own: two characters or more (one character is too common)."""
    name = name.strip()
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s)), name[:1])
    given = name[len(surname):]
    return given if len(given) >= 2 else None


def name_forms(names: Iterable[str]) -> set[str]:
    """Each name and its given name; a single character is never a form (it would match everywhere)."""
    out: set[str] = set()
    for name in names:
        name = name.strip()
        if len(name) >= 2:
            out.add(name)
        if (given := given_name(name)) is not None:
            out.add(given)
    return out


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _literal(found: _Found, text: str, category: str, needles: Iterable[str]) -> None:
    lowered = text.lower()
    for needle in sorted({n.strip() for n in needles if n and len(n.strip()) >= 2}, key=len, reverse=True):
        for m in re.finditer(re.escape(needle.lower()), lowered):
            found.add(category, m.start(), m.end(), text)


def _contacts(found: _Found, text: str, contacts: Iterable[str]) -> None:
    """A phone number however it is spaced (its last 7 digits or more in a row), an e-mail as written."""
    digits_at = [(i, c) for i, c in enumerate(text) if c.isdigit()]
    run = "".join(c for _, c in digits_at)
    for contact in contacts:
        if "@" in contact:
            _literal(found, text, "personal", [contact])
            continue
        tail = _digits(contact)[-7:]
        if len(tail) < 7:
            continue
        for m in re.finditer(re.escape(tail), run):
            found.add("personal", digits_at[m.start()][0], digits_at[m.end() - 1][0] + 1, text)


def _quasi_identifiers(found: _Found, text: str, students: int | None) -> None:
    hits = {kind: list(rx.finditer(text)) for kind, rx in _QI.items()}
    kinds = [k for k, ms in hits.items() if ms]
    if not kinds:
        return
    if students is None:
        refused = len(kinds) >= 2
        why = "、".join(KIND_ZH[k] for k in kinds) + "同时出现，且未登记学校学生人数"
    else:
        group = students
        for k in kinds:
            group //= DIVISORS[k]
        refused = group < K
        why = "、".join(KIND_ZH[k] for k in kinds) + f"可将范围缩小到约 {group} 名学生（少于 {K} 名）"
    if refused:
        for k in kinds:
            for m in hits[k]:
                found.add("quasi_identifier", m.start(), m.end(), text, why)


KIND_ZH = {"grade": "年级", "gender": "性别", "age": "年龄", "status": "特殊身份"}


def check(text: str, sensitive: Sensitive) -> list[Finding]:
    """Every finding in the text, in text order (empty: the text may be published)."""
    found = _Found()
    _literal(found, text, "personal", name_forms(sensitive.names) | set(sensitive.refs))
    _contacts(found, text, sensitive.contacts)
    _literal(found, text, "location", sensitive.places)
    for category, patterns in _COMPILED.items():
        for rx in patterns:
            for m in rx.finditer(text):
                if m.end() > m.start():
                    found.add(category, m.start(), m.end(), text)
    _quasi_identifiers(found, text, sensitive.students)
    return sorted(found.items.values(), key=lambda f: (f.start, f.end, f.category))


def school_places(name: str, address: str | None, jurisdiction_name: str) -> set[str]:
    """The school's name, its distinctive part (乐昌市示范中学 → 示范中学, 示范) and its address."""
    out = {name}
    if address:
        out.add(address)
    core = name.removeprefix(jurisdiction_name)
    if core != name and len(core) >= 2:
        out.add(core)
    for suffix in ("九年一贯制学校", "完全中学", "实验学校", "中心小学", "中学", "小学", "学校"):
        if core.endswith(suffix) and len(core) - len(suffix) >= 2:
            out.add(core.removesuffix(suffix))
            break
    return out
