"""Answering a survey page as a citizen would: tapping labels and typing, in the order shown."""

from __future__ import annotations

from enum import StrEnum

from playwright.sync_api import Locator, Page, expect

Answers = dict[str, tuple[int, ...]]


class Mood(StrEnum):
    SATISFIED = "satisfied"  # the top level of every scale
    DISSATISFIED = "dissatisfied"  # the bottom level of every scale


COMMENT = "Thử nghiệm trên trình duyệt"


def option_label(page: Page, item_id: str, index: int) -> Locator:
    """The `index`-th option of a choice item, in page order: a label wrapping its input."""
    return page.locator(f"#item-{item_id} label").nth(index)


def _tap(page: Page, item_id: str, index: int) -> int:
    """Tap the option's label as a finger would; return the code it stands for."""
    label = option_label(page, item_id, index)
    label.click()
    expect(label.locator("input")).to_be_checked()
    return int(label.locator("input").get_attribute("value") or "")


def _applies(item: Locator, chosen: Answers) -> bool:
    trigger = item.get_attribute("data-show-if-item")
    if trigger is None:
        return True
    wanted = {int(code) for code in (item.get_attribute("data-show-if-in") or "").split()}
    return bool(wanted & set(chosen.get(trigger, ())))


def fill_form(page: Page, mood: Mood, skip: frozenset[str] = frozenset()) -> tuple[Answers, dict[str, str]]:
    """Answer every question that applies (items in `skip` left empty); return the codes and texts that
    a correct server stores. Scales get their top or bottom level, other choices their first option
    (two for a multiple choice), text boxes a comment, numbers their minimum."""
    chosen: Answers = {}
    texts: dict[str, str] = {}
    for item in page.locator("#survey-form .item").all():
        item_id = (item.get_attribute("id") or "").removeprefix("item-")
        kind = item.get_attribute("class") or ""
        if item_id in skip or "item-note" in kind or not _applies(item, chosen):
            continue
        if "item-scale" in kind:
            levels = item.locator("label:not(.na) input").count()  # .na: "not applicable", last
            index = levels - 1 if mood is Mood.SATISFIED else 0
            chosen[item_id] = (_tap(page, item_id, index),)
        elif "item-single" in kind and item.locator("select").count():  # a long list: a drop-down
            item.locator("select").select_option(index=1)
            chosen[item_id] = (int(item.locator("select").input_value()),)
        elif "item-single" in kind:
            chosen[item_id] = (_tap(page, item_id, 0),)
        elif "item-multiple" in kind:
            chosen[item_id] = tuple(sorted(_tap(page, item_id, i) for i in (0, 1)))
        elif "item-number" in kind:
            box = page.locator(f"#q-{item_id}")
            minimum = int(box.get_attribute("min") or "0")
            box.fill(str(minimum))
            chosen[item_id] = (minimum,)
        elif "text" in kind:
            page.locator(f"#q-{item_id}").fill(COMMENT)
            texts[item_id] = COMMENT
    return chosen, texts


def expect_kept(page: Page, answers: Answers) -> None:
    """Every answer in `answers` is still chosen on the page (ticked, or selected in a drop-down)."""
    for item_id, codes in answers.items():
        select = page.locator(f"select[name='{item_id}']")
        if select.count():
            expect(select).to_have_value(str(codes[0]))
            continue
        for code in codes:
            expect(page.locator(f"input[name='{item_id}'][value='{code}']")).to_be_checked()


def submit(page: Page) -> None:
    page.locator("#survey-form .submit-button").click()
