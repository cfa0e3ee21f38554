"""Which comments mention which criterion: a keyword list per criterion, matched by a rule a manager
can check by reading this file.

Comments are free text, so no rule finds every mention; this one is meant to be predictable rather than
clever. A comment *mentions* a criterion when it contains one of the criterion's keywords as a whole
word or phrase, ignoring case:

- in a comment written with Vietnamese diacritics, the keyword must match with its diacritics
  ("sai" does not match "sài");
- in a comment written without any diacritics (English, or Vietnamese typed on a phone without them,
  "phai cho doi lau qua"), the keywords without diacritics (the English ones, "sai", "wifi") are
  compared as they are, and those with diacritics only when they have two syllables or more
  (Vietnamese writes syllables apart: "xét nghiệm", "chờ đợi"), without their marks ("chờ đợi"
  matches "cho doi"): a single syllable stripped of its marks is too often another word ("cho" is
  "for" as well as "chờ", wait).

Keywords are Vietnamese first, then English (the survey offers both). The lists are data, kept here and
not in the instrument files, because a published instrument is immutable (its content hash is
recorded) while these lists will be tuned as real comments come in. A criterion without a list has no
comment links. docs/dashboard.md ("What to fix first") states the rule for readers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache

from survey.services.disclosure.scrubber import Comment

KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "sipas-counter": {
        "e1_info": ("thông tin", "tra cứu", "cổng dịch vụ công", "trang web", "information", "website"),
        "e1_signage": ("biển hiệu", "biển chỉ dẫn", "bảng chỉ dẫn", "khó tìm", "sign", "signs"),
        "e1_clean": ("sạch", "bẩn", "vệ sinh", "rác", "clean", "dirty", "toilet"),
        "e1_equipment": ("máy lấy số", "máy", "ghế", "chỗ ngồi", "quạt", "điều hòa", "nóng", "wifi",
                         "gửi xe", "bãi xe", "equipment", "chairs", "air conditioning", "parking"),
        "e2_posted": ("niêm yết", "công khai", "posted"),
        "e2_documents": ("giấy tờ", "thành phần hồ sơ", "bổ sung hồ sơ", "bổ sung", "documents", "paperwork"),
        "e2_fees": ("phí", "lệ phí", "tiền", "fee", "fees"),
        "e2_deadline": ("thời hạn", "chờ", "chờ đợi", "chờ lâu", "lâu", "wait", "waiting", "slow"),
        "e3_courteous": ("thái độ", "lịch sự", "tôn trọng", "khó chịu", "quát", "cáu", "gắt", "attitude",
                         "rude", "polite"),
        "e3_responsive": ("trả lời", "giải đáp", "answer", "answers"),
        "e3_guidance": ("hướng dẫn", "giải thích", "guidance", "explain", "explained"),
        "e3_compliance": ("đúng quy định", "sai quy định", "quy trình", "rules"),
        "e3_dedicated": ("tận tình", "nhiệt tình", "chu đáo", "helpful", "kind"),
        "e4_on_time": ("đúng hẹn", "trễ", "trễ hẹn", "chậm", "quá hạn", "late", "delay", "on time"),
        "e4_accurate": ("sai sót", "nhầm", "sai", "chính xác", "mistake", "error"),
        "e4_fair": ("công bằng", "chen ngang", "quen biết", "fair", "unfair"),
        "e5_channels": ("phản ánh", "kiến nghị", "góp ý", "hòm thư", "đường dây nóng", "complaint"),
        "e5_handled": ("xử lý phản ánh", "giải quyết phản ánh", "không ai xử lý", "handled"),
        "e5_notified": ("thông báo kết quả", "không được báo", "notified"),
    },
    "outpatient": {
        "a1_signage": ("biển báo", "chỉ dẫn", "khó tìm", "signs"),
        "a2_hours": ("giờ khám", "giờ làm việc", "opening hours"),
        "a3_walkways": ("lối đi", "hành lang", "cầu thang", "thang máy", "corridor", "stairs"),
        "a4_contact": ("gọi điện", "điện thoại", "không ai nghe", "phone"),
        "a5_booking": ("đặt lịch", "hẹn khám", "đặt hẹn", "booking", "appointment"),
        "b1_procedure_posted": ("niêm yết", "quy trình", "posted"),
        "b2_procedure_simple": ("thủ tục", "giấy tờ", "rườm rà", "paperwork"),
        "b3_prices_posted": ("bảng giá", "giá dịch vụ", "prices"),
        "b4_explained": ("chi phí", "giải thích", "explained"),
        "b5_wait_registration": ("chờ đăng ký", "xếp hàng", "lấy số", "chờ", "queue", "wait"),
        "b6_wait_tests": ("xét nghiệm", "chụp", "siêu âm", "chờ kết quả", "test results", "x-ray"),
        "c1_waiting_area": ("ghế", "chỗ ngồi", "nóng", "nước uống", "phòng chờ", "seats", "hot"),
        "c2_toilets": ("nhà vệ sinh", "vệ sinh", "toilet", "toilets"),
        "c3_grounds": ("khuôn viên", "sạch", "bẩn", "rác", "clean", "dirty"),
        "c4_privacy": ("riêng tư", "privacy"),
        "c5_parking": ("gửi xe", "bãi xe", "parking"),
        "d1_clinicians_courteous": ("bác sĩ", "điều dưỡng", "thái độ", "quát", "doctor", "nurse", "rude"),
        "d2_support_courteous": ("bảo vệ", "thu ngân", "nhân viên", "guard", "cashier", "staff"),
        "d3_respect": ("tôn trọng", "công bằng", "quan tâm", "respect", "unfair"),
        "d4_explained_illness": ("giải thích bệnh", "cách dùng thuốc", "tình trạng bệnh", "medicine"),
        "d5_competence": ("chuyên môn", "chẩn đoán sai", "tay nghề", "competent", "misdiagnosis"),
        "e1_needs_met": ("nguyện vọng", "không khỏi", "expectations"),
        "e2_documents": ("hóa đơn", "đơn thuốc", "invoice", "prescription"),
        "e3_costs": ("chi phí", "đắt", "tốn kém", "tiền", "expensive", "cost"),
        "e4_trust": ("tin tưởng", "yên tâm", "trust"),
    },
}

def plain(text: str) -> str:
    """`text` lower-cased without diacritics ("đ" becomes "d")."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _has_diacritics(text: str) -> bool:
    return plain(text) != unicodedata.normalize("NFC", text.casefold())


@cache
def _pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    words = sorted({unicodedata.normalize("NFC", k.casefold()) for k in keywords}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


@cache
def _plain_keywords(keywords: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(plain(k) for k in keywords if len(k.split()) > 1 or not _has_diacritics(k))


def mentions(text: str, keywords: Sequence[str]) -> bool:
    """Whether `text` mentions one of `keywords` by the module's rule."""
    if not keywords:
        return False
    if _has_diacritics(text):
        return _pattern(tuple(keywords)).search(unicodedata.normalize("NFC", text.casefold())) is not None
    phrases = _plain_keywords(tuple(keywords))
    return bool(phrases) and _pattern(phrases).search(plain(text)) is not None


def mentioning(instrument_id: str, criterion: str, comments: Iterable[Comment]) -> list[Comment]:
    """The (scrubbed) comments that mention `criterion` of `instrument_id`."""
    keywords = KEYWORDS.get(instrument_id, {}).get(criterion, ())
    return [c for c in comments if mentions(c.text, keywords)]
