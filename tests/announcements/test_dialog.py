"""The announcement dialogs over a Session: what each step answers, queued in the outbox, and
the stage it leads to (the handler only parses and renders)."""

from __future__ import annotations

from sqlmodel import col, select

from bot.announcements import compose, dialog
from bot.delivery.models import OutboxMessage
from bot.delivery.replies import Asker
from tests.announcements.test_announce import NOW, kw, world  # noqa: F401 (fixtures)
from tests.announcements.test_announce_world import BUDI, SATGAS


def asker(user_id: int, update: str, pressed: tuple[int, int] | None = None) -> Asker:
    return Asker(user_id=user_id, chat_id=user_id, update=update, key=f"reply:{update}",
                 now=NOW, pressed=pressed)


def queued(db) -> list[tuple[str, str, str]]:
    rows = db.call(lambda s: s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())
    return [(m.key, m.method, m.payload.get("text", "")) for m in rows]


def test_only_someone_with_a_target_is_asked_for_the_text(world, kw):  # noqa: F811
    draft = compose.new_draft()
    assert world.call(lambda s: dialog.start(s, kw, asker(BUDI, "m1"), draft)) == dialog.DONE
    assert world.call(lambda s: dialog.start(s, kw, asker(SATGAS, "m2"), draft)) == compose.TEXT
    [(k1, _, refused), (k2, _, ask)] = queued(world)
    assert (k1, k2) == ("reply:m1", "reply:m2")
    assert "Satgas" in refused and "Silakan kirim teks pengumuman" in ask


def test_no_media_closes_the_question_and_shows_the_targets(world, kw):  # noqa: F811
    draft = compose.new_draft()
    compose.typed_text(draft, "Halo", 4)
    pressed = asker(SATGAS, "q1", pressed=(SATGAS, 70))
    assert world.call(lambda s: dialog.skip_media(s, kw, pressed, draft)) == compose.TARGET
    assert draft.stage == compose.TARGET
    [close, targets] = queued(world)
    assert close[:2] == (f"an-close:{SATGAS}:70", "editMessageReplyMarkup")
    assert targets[0] == "reply:q1" and "Kepada siapa" in targets[2]


def test_a_message_at_the_wrong_moment_gets_the_hint(world, kw):  # noqa: F811
    step = compose.typed_text(None, "Halo", 4)
    assert world.call(lambda s: dialog.after_message(s, kw, asker(SATGAS, "m3"), None,
                                                      step)) == dialog.DONE
    assert [k for k, _, _ in queued(world)] == ["reply:m3"]


def test_follow_up_commands_check_their_words(world, kw):  # noqa: F811
    world.call(lambda s: dialog.report(s, kw, asker(SATGAS, "m4"), ["#x"]))
    world.call(lambda s: dialog.ask_withdraw(s, kw, asker(SATGAS, "m5"), []))
    [(_, _, report), (_, _, withdraw)] = queued(world)
    assert "/dibaca 12" in report and "/tarik 12" in withdraw
