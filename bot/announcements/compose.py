"""The /umumkan draft as a state machine: text -> media -> target -> preview -> send.

Pure: each function takes the draft and what the person typed or pressed, changes the draft
where the step is certain, and says what comes next. Steps that depend on the database (the
target list, the preview) change the draft only once they succeeded: `targets_shown`,
`previewed`. A step that does not fit the draft's stage is EXPIRED (a stale or repeated
button, a message at the wrong moment), and changes nothing.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

from bot.announcements.posts import MAX_CAPTION_CHARS, MAX_TEXT_CHARS
from bot.delivery.callbacks import Pressed

TEXT, MEDIA, TARGET, PREVIEW = "text", "media", "target", "preview"


@dataclass
class Draft:
    token: str
    stage: str = TEXT
    text_html: str | None = None
    text_len: int = 0
    media_kind: str | None = None
    media_file_id: str | None = None
    scope: str | None = None

    def targets_shown(self) -> None:
        self.stage = TARGET

    def previewed(self, scope: str) -> None:
        self.stage, self.scope = PREVIEW, scope


def new_draft() -> Draft:
    return Draft(token=secrets.token_hex(4))


class Next(enum.Enum):
    EXPIRED = "expired"
    TOO_LONG = "too_long"  # with length, limit and with_media
    ASK_MEDIA = "ask_media"  # with replaced: a second text replaced the first
    ASK_CAPTION = "ask_caption"
    ASK_TARGET = "ask_target"
    SKIP_MEDIA = "skip_media"  # "no media" pressed: then the targets
    CANCEL = "cancel"
    PREVIEW = "preview"  # with scope
    SEND = "send"


@dataclass(frozen=True)
class Step:
    next: Next
    length: int = 0
    limit: int = 0
    with_media: bool = False
    replaced: bool = False
    scope: str | None = None


EXPIRED = Step(Next.EXPIRED)


def _composing(draft: Draft | None) -> bool:
    return draft is not None and draft.stage in (TEXT, MEDIA)


def typed_text(draft: Draft | None, text_html: str, length: int) -> Step:
    """A text message: the announcement's text (or, after a photo, its caption)."""
    if not _composing(draft):
        return EXPIRED
    limit = MAX_CAPTION_CHARS if draft.media_kind else MAX_TEXT_CHARS
    if length > limit:
        return Step(Next.TOO_LONG, length=length, limit=limit,
                    with_media=bool(draft.media_kind))
    replaced = draft.text_html is not None
    draft.text_html, draft.text_len = text_html, length
    if draft.media_kind is not None:
        return Step(Next.ASK_TARGET)
    draft.stage = MEDIA
    return Step(Next.ASK_MEDIA, replaced=replaced)


def sent_media(draft: Draft | None, kind: str, file_id: str, caption_html: str | None,
               caption_len: int) -> Step:
    """A photo or document, maybe with a caption (which is the text if none came yet)."""
    if not _composing(draft):
        return EXPIRED
    text_html, length = draft.text_html, draft.text_len
    if text_html is None and caption_html:
        text_html, length = caption_html, caption_len
    if text_html is not None and length > MAX_CAPTION_CHARS:
        return Step(Next.TOO_LONG, length=length, limit=MAX_CAPTION_CHARS, with_media=True)
    draft.media_kind, draft.media_file_id = kind, file_id
    draft.text_html, draft.text_len = text_html, length
    if text_html is not None:
        return Step(Next.ASK_TARGET)
    draft.stage = TEXT
    return Step(Next.ASK_CAPTION)


def pressed(draft: Draft | None, button: Pressed) -> Step:
    """A compose button (COMPOSE in buttons.py), checked against the draft it was made for."""
    if draft is None or draft.token != button["token"]:
        return EXPIRED
    if button.shape == "cancel":
        return Step(Next.CANCEL)
    if button.shape == "no_media":
        if draft.stage != MEDIA or draft.text_html is None:
            return EXPIRED
        return Step(Next.SKIP_MEDIA)
    if button.shape == "target":
        return Step(Next.PREVIEW, scope=button["scope"]) if draft.stage == TARGET else EXPIRED
    if draft.stage != PREVIEW or draft.scope is None:
        return EXPIRED
    return Step(Next.SEND)
