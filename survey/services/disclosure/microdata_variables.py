"""What each column of a microdata export means: labels in Vietnamese and English, value labels, and
which codes are missing values. One source for the SPSS/Stata labels and for the codebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from instruments import model
from instruments.model import Instrument, Text
from survey.models import Channel
from survey.services.disclosure.microdata import (
    AGE_BANDS_MERGED,
    CHANNEL_CODES,
    SUPPRESSED,
    Microdata,
)

NOT_ANSWERED = Text(vi="Không trả lời (ô trống)", en="Not answered (empty)")
SUPPRESSED_LABEL = Text(vi="Bị ẩn để bảo mật (kiểm soát tiết lộ)", en="Suppressed for confidentiality")
CHANNEL_NAMES = {
    Channel.QR: Text(vi="Mã QR tại quầy", en="QR code at the counter"),
    Channel.KIOSK: Text(vi="Máy tính bảng tại quầy", en="Counter tablet (kiosk)"),
    Channel.LINK: Text(vi="Đường liên kết", en="Link"),
    Channel.API: Text(vi="Hệ thống khác gửi qua API", en="Sent by another system (API)"),
    Channel.IMPORT: Text(vi="Nhập từ tệp", en="Imported from a file"),
}
META_LABELS = {
    "instrument_id": Text(vi="Mã bộ câu hỏi", en="Instrument id"),
    "instrument_version": Text(vi="Phiên bản bộ câu hỏi", en="Instrument version"),
    "index_formula": Text(vi="Công thức tính chỉ số", en="Index formula (definition version)"),
    "unit": Text(vi="Mã đơn vị", en="Unit code"),
    "parent_unit": Text(vi="Mã đơn vị cấp trên", en="Parent unit code"),
    "period": Text(vi="Kỳ trả lời", en="Period of the response"),
    "channel": Text(vi="Kênh trả lời", en="Channel of the response"),
    "field": Text(vi="Lĩnh vực thủ tục của quầy", en="Procedure field of the counter"),
    "weight": Text(vi="Trọng số cuối cùng", en="Final weight"),
    "stratum": Text(vi="Tầng (để ước lượng phương sai)", en="Stratum (for variance estimation)"),
    "weight_cell": Text(vi="Ô gia quyền (số ngẫu nhiên)", en="Weighting cell (random number)"),
}


@dataclass(frozen=True)
class Variable:
    """One column: its name, label, storage type, value labels and missing-value codes."""

    name: str
    label: Text
    kind: str  # "string", "code" (labelled integer), "number" or "weight"
    values: dict[int, Text] = field(default_factory=dict)
    not_applicable: int | None = None  # the N/A code, kept as a value and declared missing
    suppressible: bool = False  # may hold SUPPRESSED

    def label_in(self, lang: str) -> str:
        return self.label.get(lang)

    def value_labels_in(self, lang: str) -> dict[int, str]:
        labels = {code: text.get(lang) for code, text in self.values.items()}
        if self.suppressible:
            labels[SUPPRESSED] = SUPPRESSED_LABEL.get(lang)
        return labels


def _item_variables(instrument: Instrument, columns: tuple[str, ...], merged_age: bool,
                    suppressible: set[str]) -> list[Variable]:
    out: list[Variable] = []
    for item in instrument.items():
        if isinstance(item, model.ScaleItem):
            scale = instrument.scales[item.scale]
            values = {level.code: level.label for level in scale.levels}
            na = scale.not_applicable if item.allow_na else None
            if na is not None:
                values[na.code] = na.label
            out.append(Variable(item.id, item.text, "code", values, na.code if na else None,
                                item.id in suppressible))
        elif isinstance(item, model.SingleChoiceItem):
            values = {option.code: option.label for option in item.options}
            if merged_age and item.id == "age_band":
                values = {band: Text(vi=vi, en=en) for band, (_, (vi, en)) in AGE_BANDS_MERGED.items()}
            out.append(Variable(item.id, item.text, "code", values, None, item.id in suppressible))
        elif isinstance(item, model.ShortTextItem | model.LongTextItem):
            out.append(Variable(item.id, item.text, "string"))
        elif isinstance(item, model.NumberItem):
            out.append(Variable(item.id, item.text, "number", {}, None, item.id in suppressible))
        elif isinstance(item, model.MultipleChoiceItem):
            for option in item.options:
                label = Text(vi=f"{item.text.vi}: {option.label.vi}", en=f"{item.text.en}: {option.label.en}")
                out.append(Variable(f"{item.id}__{option.code}", label, "code",
                                    {1: Text(vi="Có chọn", en="Chosen"),
                                     0: Text(vi="Không chọn", en="Not chosen")}))
    wanted = set(columns)
    return [v for v in out if v.name in wanted]


def variables(microdata: Microdata) -> list[Variable]:
    """Every column of `microdata.table`, in order."""
    suppressible = {*microdata.quasi_identifiers, *microdata.sensitive, *microdata.omitted}
    by_name = {v.name: v for v in _item_variables(microdata.request.instrument, microdata.item_columns,
                                                  microdata.merged_age_bands, suppressible)}
    fields = {code: Text(vi=name, en=name) for code, name in microdata.field_codes.items()}
    channels = {code: CHANNEL_NAMES[Channel(name)] for name, code in CHANNEL_CODES.items()}
    meta = {
        "channel": Variable("channel", META_LABELS["channel"], "code", channels, None, True),
        "field": Variable("field", META_LABELS["field"], "code", fields, None, "field" in suppressible),
        "weight": Variable("weight", META_LABELS["weight"], "weight"),
        "weight_cell": Variable("weight_cell", META_LABELS["weight_cell"], "number"),
    }
    out = []
    for column in microdata.table.columns:
        if column in by_name:
            out.append(by_name[column])
        elif column in meta:
            out.append(meta[column])
        else:
            out.append(Variable(column, META_LABELS[column], "string"))
    return out
