"""The first draft of a public notice, written from a case's record (pure).

Only what a notice may say: the level (in Chinese), the month, the jurisdiction instead of the school
(乐昌市某中学), the measures (sanction kinds, counselling, tasks done, the police's and the bureau's acts),
and rectification (look-backs, hazards rectified). Accountability is not in the record: the draft
leaves a 【待填写…】 that the rule refuses until the bureau has written it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LEVEL_ZH = {"minor": "情节轻微", "serious": "情节较重", "severe": "情节严重", "criminal": "涉嫌违法犯罪"}
DISCLOSABLE_LEVELS = ("severe", "criminal")
# Acts worth a sentence, in the order a notice tells them.
ACT_ZH = {
    "raise_level": "教育局依规提升了事件认定等级",
    "refer_to_police": "教育局将事件移送公安机关依法处理",
    "order_follow_up": "教育局责令学校限期报告处置进展",
    "flag_public_attention": "教育局将事件报送稳定安全部门",
    "police_warning_given": "公安机关依法对实施欺凌的学生予以训诫",
    "police_transferred": "公安机关已将案件移送检察机关",
    "police_outcome": "公安机关已依法作出处理",
}
ACCOUNTABILITY_PLACEHOLDER = ("【待填写：对学校及相关责任人的问责处理；"
                              "如无，请写明经调查学校已按规定履行报告和处置职责】")
SCHOOL_KINDS = ("小学", "中学", "学校")


@dataclass(frozen=True)
class DraftFacts:
    level: str
    year: int
    month: int
    place: str  # the jurisdiction and the kind of school: 乐昌市某中学
    sanctions: tuple[str, ...] = ()  # the kinds, as the school named them (警告处分)
    counselling: int = 0  # sessions reported
    tasks_done: tuple[str, ...] = ()  # the policy's tasks done (their Chinese labels)
    acts: tuple[str, ...] = ()  # officials' acts on the case
    lookbacks: int = 0
    lookbacks_done: int = 0
    hazards: int = 0
    hazards_rectified: int = 0
    extra: tuple[str, ...] = field(default=())


def anonymous_place(jurisdiction_name: str, school_name: str) -> str:
    """乐昌市 + 某 + the kind of school (小学, 中学, else 学校): never the school's own name."""
    kind = next((k for k in SCHOOL_KINDS if school_name.endswith(k)), "学校")
    return f"{jurisdiction_name}某{kind}"


def month_zh(year: int, month: int) -> str:
    return f"{year}年{month}月"


def title_of(place: str, level: str) -> str:
    return f"关于{place}一起{LEVEL_ZH.get(level, '')}学生欺凌事件处置情况的通报"


def _unique(items: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(i.strip() for i in items if i.strip()))


def draft_text(f: DraftFacts) -> str:
    measures: list[str] = []
    if kinds := _unique(f.sanctions):
        measures.append(f"学校依规对实施欺凌的学生给予{'、'.join(kinds)}")
    if f.counselling:
        measures.append(f"学校对相关学生开展心理辅导{f.counselling}人次")
    if tasks := _unique(f.tasks_done):
        measures.append(f"已完成{'、'.join(tasks)}等规定事项")
    measures += [ACT_ZH[a] for a in ACT_ZH if a in f.acts]
    if not measures:
        measures.append("学校和教育局已按规定完成各项处置工作")
    rectification: list[str] = []
    if f.lookbacks:
        rectification.append(f"教育局对该校开展“回头看”复查{f.lookbacks}次（已完成{f.lookbacks_done}次）")
    if f.hazards:
        rectification.append(f"该校排查发现苗头隐患{f.hazards}处，已整改{f.hazards_rectified}处")
    rectification.append("学校已举一反三，完善有关规章制度，加强日常管理")
    return "\n".join([
        f"{month_zh(f.year, f.month)}，{f.place}发生一起学生欺凌事件，经认定为{LEVEL_ZH[f.level]}。"
        "现将处置情况通报如下：",
        f"一、处置措施：{'；'.join(measures)}。",
        f"二、问责情况：{ACCOUNTABILITY_PLACEHOLDER}",
        f"三、整改情况：{'；'.join(rectification)}。",
        "为保护未成年人隐私，本通报不公布涉事学生及学校的具体信息。请各学校引以为鉴，切实做好学生欺凌防治工作。",
    ])
