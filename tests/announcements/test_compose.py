"""The /umumkan draft's state machine, without Telegram or a database."""

from __future__ import annotations

from bot.announcements import compose
from bot.announcements.buttons import COMPOSE
from bot.announcements.compose import MEDIA, TEXT, Next
from bot.announcements.posts import MAX_CAPTION_CHARS


def press(draft, shape, **values):
    return compose.pressed(draft, COMPOSE.decode(COMPOSE.encode(shape, **values)))


def test_text_then_no_media_then_target_then_send():
    draft = compose.new_draft()
    assert compose.typed_text(draft, "<b>Hi</b>", 2).next is Next.ASK_MEDIA
    assert draft.stage == MEDIA
    assert press(draft, "no_media", token=draft.token).next is Next.SKIP_MEDIA
    draft.targets_shown()
    step = press(draft, "target", token=draft.token, scope="kanwil")
    assert (step.next, step.scope) == (Next.PREVIEW, "kanwil")
    assert press(draft, "send", token=draft.token).next is Next.EXPIRED  # not previewed yet
    draft.previewed("kanwil")
    assert press(draft, "send", token=draft.token).next is Next.SEND


def test_photo_first_asks_for_its_caption_and_limits_it():
    draft = compose.new_draft()
    assert compose.sent_media(draft, "photo", "F1", None, 0).next is Next.ASK_CAPTION
    assert draft.stage == TEXT
    step = compose.typed_text(draft, "x" * 900, 900)
    assert (step.next, step.limit, step.with_media) == (Next.TOO_LONG, MAX_CAPTION_CHARS, True)
    assert compose.typed_text(draft, "ok", 2).next is Next.ASK_TARGET


def test_a_button_of_another_draft_or_stage_is_expired():
    draft = compose.new_draft()
    other = "0" * 8 if draft.token != "0" * 8 else "1" * 8
    assert press(draft, "cancel", token=other).next is Next.EXPIRED
    assert press(None, "cancel", token=draft.token).next is Next.EXPIRED
    assert press(draft, "no_media", token=draft.token).next is Next.EXPIRED  # no text yet
    assert press(draft, "cancel", token=draft.token).next is Next.CANCEL
