"""Telegram HTML measured and cut the way Telegram counts it.

Telegram limits a message to 4,096 characters of *visible* text (after its HTML is parsed) in
UTF-16 code units: tags count nothing, `&amp;` counts one, an emoji outside the Basic
Multilingual Plane two. A list of 150 names goes over that, so `split_html` cuts a text into
parts, each a valid HTML message on its own: at line ends, else at a space, else anywhere
outside a tag or an entity; a tag open across a cut is closed at the end of one part and
opened again at the start of the next.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# One token: a tag, a character reference (&amp; &#128512; &#x1F600;), or a single character.
_TOKEN = re.compile(r"<[^>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});|.", re.S)
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][\w-]*)")
_TELEGRAM_ENTITIES = {"&lt;", "&gt;", "&amp;", "&quot;"}  # the only named ones Telegram reads


def utf16_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class _Token:
    text: str
    width: int  # visible UTF-16 units
    tag: str | None = None  # the tag's name, for tags
    closing: bool = False


def _tokens(source: str) -> list[_Token]:
    out = []
    for match in _TOKEN.finditer(source):
        piece = match.group()
        if piece.startswith("<") and (tag := _TAG.match(piece)) is not None:
            out.append(_Token(piece, 0, tag.group(2).lower(), bool(tag.group(1))))
        elif piece.startswith("&") and len(piece) > 1:
            shown = html.unescape(piece) if piece[1] == "#" or piece in _TELEGRAM_ENTITIES \
                else piece
            out.append(_Token(piece, utf16_len(shown)))
        else:
            out.append(_Token(piece, utf16_len(piece)))
    return out


def visible_length(source: str) -> int:
    """The length Telegram checks: visible text after HTML parsing, in UTF-16 code units."""
    if "<" not in source and "&" not in source:
        return utf16_len(source)
    return sum(t.width for t in _tokens(source))


def split_html(source: str, limit: int) -> list[str]:
    """`source` in parts of at most `limit` visible units, in order (one part if it fits)."""
    if utf16_len(source) <= limit or visible_length(source) <= limit:  # tags only shrink it
        return [source]
    parts = _pack(_fragments(_tokens(source), limit), limit)
    return [p for p in _balance(parts) if _shows_something(p)]


def clip_html(source: str, limit: int, ellipsis: str = "…") -> str:
    """The start of `source` that fits in `limit` with `ellipsis` after it: for what cannot be
    split (an edit, a caption)."""
    if visible_length(source) <= limit:
        return source
    return split_html(source, limit - utf16_len(ellipsis))[0] + ellipsis


# --- cutting -----------------------------------------------------------------------------------

# A fragment: the separator token before it (a newline or a space, dropped where a part ends)
# and the tokens that must stay together, at most `limit` wide.
_Fragment = tuple[_Token | None, list[_Token]]


def _width(tokens: list[_Token]) -> int:
    return sum(t.width for t in tokens)


def _cut(tokens: list[_Token], separator: str) -> list[tuple[_Token | None, list[_Token]]]:
    pieces: list[tuple[_Token | None, list[_Token]]] = [(None, [])]
    for token in tokens:
        if token.text == separator:
            pieces.append((token, []))
        else:
            pieces[-1][1].append(token)
    return pieces


def _fragments(tokens: list[_Token], limit: int) -> list[_Fragment]:
    """Lines; a line too long, its words; a word too long, runs of tokens."""
    out: list[_Fragment] = []
    for line_sep, line in _cut(tokens, "\n"):
        if _width(line) <= limit:
            out.append((line_sep, line))
            continue
        for i, (word_sep, word) in enumerate(_cut(line, " ")):
            sep = line_sep if i == 0 else word_sep
            if _width(word) <= limit:
                out.append((sep, word))
                continue
            run: list[_Token] = []
            for token in word:
                if run and _width(run) + token.width > limit:
                    out.append((sep, run))
                    sep, run = None, []
                run.append(token)
            out.append((sep, run))
    return out


def _pack(fragments: list[_Fragment], limit: int) -> list[list[_Token]]:
    """Fragments into as few parts as fit, in order; a separator at a cut is dropped."""
    parts: list[list[_Token]] = []
    current: list[_Token] = []
    width = 0
    for sep, fragment in fragments:
        sep_width = sep.width if sep is not None and current else 0
        if current and width + sep_width + _width(fragment) > limit:
            parts.append(current)
            current, width, sep_width = [], 0, 0
        if sep is not None and current:
            current.append(sep)
        current.extend(fragment)
        width += sep_width + _width(fragment)
    parts.append(current)
    return parts


def _balance(parts: list[list[_Token]]) -> list[str]:
    """Each part closes the tags still open at its end; the next opens them again."""
    out = []
    open_tags: list[_Token] = []
    for part in parts:
        text = [t.text for t in open_tags]
        for token in part:
            text.append(token.text)
            if token.tag is None:
                continue
            if not token.closing:
                open_tags.append(token)
            elif any(t.tag == token.tag for t in open_tags):
                while open_tags.pop().tag != token.tag:
                    pass
        text.extend(f"</{t.tag}>" for t in reversed(open_tags))
        out.append("".join(text))
    return out


def _shows_something(part: str) -> bool:
    return any(t.tag is None and not t.text.isspace() for t in _tokens(part))
