"""The anonymisation rule of a public notice (pure): every category refused where it stands in the text, the
partial forms of names, the quasi-identifier model, and a generated draft that passes once filled in."""

from __future__ import annotations

import pytest

from services.archive.disclosure_draft import (
    ACCOUNTABILITY_PLACEHOLDER,
    DraftFacts,
    anonymous_place,
    draft_text,
    title_of,
)
from services.archive.disclosure_rule import K, Sensitive, check, given_name, name_forms, school_places

pytestmark = pytest.mark.pure

CASE = Sensitive(
    names=frozenset({"王小明", "欧阳娜娜", "李强", "张国华", "陈老师"}),
    refs=frozenset({"S-1042", "S-2001"}),
    contacts=frozenset({"+8613912345678", "wang.parent@example.cn"}),
    places=frozenset(school_places("乐昌市示范中学", "乐昌市人民中路1号", "乐昌市") | {"教学楼三楼男厕所"}),
    students=1260,
)
CLEAN = ("2026年11月，乐昌市某中学发生一起学生欺凌事件，经认定为情节严重。现将处置情况通报如下：\n"
         "一、处置措施：学校依规对实施欺凌的学生给予警告处分；公安机关依法对实施欺凌的学生予以训诫。\n"
         "二、问责情况：对学校分管副校长进行约谈，责令班主任作出书面检查。\n"
         "三、整改情况：学校已举一反三，完善有关规章制度，加强日常管理。王同学的家长已收到学校的书面答复，王某某已转学。")


def categories(text: str, sensitive: Sensitive = CASE) -> set[str]:
    return {f.category for f in check(text, sensitive)}


def test_a_clean_notice_passes() -> None:
    assert check(CLEAN, CASE) == []


@pytest.mark.parametrize("fragment", [
    "王小明", "小明", "欧阳娜娜", "娜娜", "李强", "张国华", "国华", "S-1042", "s-2001",
    "13912345678", "139 1234 5678", "+86 139-1234-5678", "wang.parent@example.cn", "WANG.PARENT@example.cn",
    "someone@other.org", "44028119990101123X", "0751-12345678",
])
def test_personal_data_is_refused(fragment: str) -> None:
    text = CLEAN + f"另：{fragment}。"
    found = [f for f in check(text, CASE) if f.category == "personal"]
    assert found, fragment
    assert any(text[f.start:f.end].lower() in fragment.lower() or fragment.lower() in text[f.start:f.end].lower()
               for f in found)


@pytest.mark.parametrize("fine", ["王同学", "王某某", "王某", "李某", "欧阳同学", "强化管理"])
def test_a_surname_with_a_generic_word_is_fine(fine: str) -> None:
    assert "personal" not in categories(CLEAN + fine + "。")


def test_name_forms() -> None:
    assert given_name("王小明") == "小明"
    assert given_name("欧阳娜娜") == "娜娜"
    assert given_name("李强") is None  # one character: too common to refuse on its own
    assert name_forms(["李强", "王小明", "X"]) == {"李强", "王小明", "小明"}


@pytest.mark.parametrize("fragment", ["七年级3班", "初二(3)班", "初二（3）班", "3班", "三班", "高一 12 班"])
def test_a_class_is_refused(fragment: str) -> None:
    assert "class" in categories(CLEAN + fragment + "学生。")


@pytest.mark.parametrize("fine", ["班主任", "班会", "班干部", "工作专班"])
def test_class_words_without_a_class_are_fine(fine: str) -> None:
    assert "class" not in categories(CLEAN + fine + "。")


@pytest.mark.parametrize("fragment", [
    "2026年11月3日", "11月3日", "11月3号", "3号", "5日", "2026-11-03", "2026/11/03", "26.11.3", "十一月三日", "周三",
    "星期五", "上午", "下午", "晚自习", "14:30", "14：30", "9点", "9点30分", "三点钟", "上旬", "昨天", "当天", "课间",
])
def test_a_date_or_time_finer_than_a_month_is_refused(fragment: str) -> None:
    text = CLEAN + f"事发于{fragment}。"
    found = [f for f in check(text, CASE) if f.category == "date"]
    assert found, fragment
    start = text.index(f"事发于{fragment}") + 3
    assert any(f.start >= start and f.end <= start + len(fragment) for f in found), (fragment, found)


@pytest.mark.parametrize("fine", ["2026年11月", "11月", "2026-11", "2026年", "本学期", "及时", "同时", "一时冲动"])
def test_a_month_or_coarser_is_fine(fine: str) -> None:
    assert "date" not in categories(CLEAN + f"{fine}。"), fine


@pytest.mark.parametrize("fragment", [
    "乐昌市示范中学", "示范中学", "示范", "乐昌市人民中路1号", "人民中路1号", "教学楼三楼男厕所", "宿舍", "厕所",
    "操场", "卫生间", "3楼", "302室", "5号楼", "2栋", "解放路12号", "食堂",
])
def test_location_detail_is_refused(fragment: str) -> None:
    assert "location" in categories(CLEAN + f"地点：{fragment}。"), fragment


@pytest.mark.parametrize("text", ["初二女生", "13岁男孩", "初二的留守儿童", "七年级男生，14岁"])
def test_quasi_identifiers_in_a_small_school_are_refused(text: str) -> None:
    small = Sensitive(students=60)
    assert "quasi_identifier" in categories(CLEAN + text + "。", small)


def test_the_quasi_identifier_model() -> None:
    big = Sensitive(students=1260)
    assert "quasi_identifier" not in categories(CLEAN + "涉事学生为初二学生。", big)  # 1260/6 = 210
    assert "quasi_identifier" not in categories(CLEAN + "初二女生。", big)  # 105
    assert "quasi_identifier" not in categories(CLEAN + "初二女生，13岁。", big)  # 35
    assert "quasi_identifier" in categories(CLEAN + "初二留守女生，13岁。", big)  # 7 < K
    assert K == 20
    # a grade alone in a school of 100: about 16 in a grade, fewer than K
    assert "quasi_identifier" in categories(CLEAN + "初二学生。", Sensitive(students=100))
    # no enrolment known: one kind passes, two together are refused
    unknown = Sensitive()
    assert "quasi_identifier" not in categories(CLEAN + "初二学生。", unknown)
    assert "quasi_identifier" in categories(CLEAN + "初二女生。", unknown)
    # the combination counts across sentences, and every occurrence is shown
    text = CLEAN + "涉事学生为初二学生。另一名为女生。"
    found = [f for f in check(text, unknown) if f.category == "quasi_identifier"]
    assert {f.match for f in found} == {"初二", "女生"}
    assert all("未登记学校学生人数" in f.reason_zh for f in found)


def test_every_finding_says_where_in_both_languages() -> None:
    text = "王小明于11月3日在宿舍被打。"
    found = check(text, CASE)
    assert {f.category for f in found} == {"personal", "date", "location"}
    for f in found:
        assert text[f.start:f.end] == f.match
        assert f"第 {f.start + 1}–{f.end} 字" in f.reason_zh and f"{f.start + 1}–{f.end}" in f.reason
    assert [f.start for f in found] == sorted(f.start for f in found)


def test_the_draft_is_anonymous_and_passes_once_accountability_is_written() -> None:
    facts = DraftFacts(level="severe", year=2026, month=11, place=anonymous_place("乐昌市", "乐昌市示范中学"),
                       sanctions=("警告处分", "警告处分", "记过处分"), counselling=2,
                       tasks_done=("批评教育和警示谈话", "记入学生综合素质评价"),
                       acts=("police_warning_given", "refer_to_police", "add_note"), lookbacks=1, lookbacks_done=1,
                       hazards=3, hazards_rectified=2)
    text = draft_text(facts)
    assert text.startswith("2026年11月，乐昌市某中学发生一起学生欺凌事件，经认定为情节严重。")
    assert "警告处分、记过处分" in text and "心理辅导2人次" in text and "训诫" in text and "移送公安机关" in text
    assert "回头看" in text and "已整改2处" in text
    [placeholder] = check(text, CASE)  # accountability is the bureau's to write
    assert placeholder.category == "placeholder" and "请填写后删除该标记" in placeholder.reason_zh
    assert "fill it in" in placeholder.reason
    filled = text.replace(ACCOUNTABILITY_PLACEHOLDER, "对学校分管负责人进行约谈。")
    assert check(filled, CASE) == []
    assert title_of("乐昌市某中学", "criminal") == "关于乐昌市某中学一起涉嫌违法犯罪学生欺凌事件处置情况的通报"
    assert anonymous_place("乐昌市", "乐昌市第一小学") == "乐昌市某小学"
    assert anonymous_place("乐昌市", "乐昌市育才学校") == "乐昌市某学校"


def test_the_terms_come_from_the_personal_section_and_the_directory() -> None:
    from services.archive.disclosure_record import sensitive_terms
    from services.archive.personal import Personal, PersonalStudent
    from shared.config import ROOT
    from shared.contracts import Guardian, Reporter
    from shared.contracts.help import Requester
    from shared.directory import load_directory

    personal = Personal(
        students=[PersonalStudent(ref="S-9", role="victim", name="甄卡纳", grade="初二(7)班", guardians=[
            Guardian(name="甄守望", relation="父亲", phone="13912340071", email="zhen@example.cn")])],
        reporter=Reporter(name="柯哨兵", role="班主任"),
        requester=Requester(kind="parent", anonymous=False, name="蔺晨曦", phone="13912340079"))
    terms = sensitive_terms(personal, [], load_directory(ROOT / "deploy" / "directory.toml"), "demo-school")
    assert terms.names == {"甄卡纳", "甄守望", "柯哨兵", "蔺晨曦"} and terms.refs == {"S-9"}
    assert terms.contacts == {"13912340071", "zhen@example.cn", "13912340079"}
    assert {"乐昌市示范中学", "示范中学", "示范", "乐昌市人民中路1号"} <= terms.places and terms.students == 1260
    text = "卡纳的父亲守望、柯哨兵、晨曦（139-1234-0079）。"
    assert {f.match for f in check(text, terms) if f.category == "personal"} >= {"卡纳", "守望", "柯哨兵", "晨曦"}
