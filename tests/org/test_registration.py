"""Claims by /daftar: one at a time per account, capped per day, naming nobody early."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.org.registration import Claim, Decision, claim, decide, decider_name
from bot.org.units import sync_config
from tests.factories import add_employee, nip

NOW = datetime(2024, 11, 25, 12, 0, tzinfo=UTC)


def seed(db, settings):
    def work(s):
        sync_config(s, settings, NOW)
        add_employee(s, "lapas-palu", 1, "Hendra Gunawan", "karupam", "Regu D", 2001, True)
        for n in range(2, 7):
            add_employee(s, "lapas-palu", n, f"Pegawai {n}", "anggota", "Regu D")

    db.call(work)


def test_one_pending_claim_per_account_and_daily_cap(db, settings):
    seed(db, settings)

    def claim_as(user, n, at=NOW):
        return db.call(lambda s: claim(s, settings, telegram_user_id=user, telegram_name="X",
                                       nip=nip(n), now=at))

    first = claim_as(777, 2)
    assert first.result == Claim.REQUESTED
    second = claim_as(777, 3)  # another NIP while the first waits: refused, naming nobody
    assert second.result == Claim.PENDING and second.employee is None

    def refuse(request_id):
        db.call(lambda s: decide(s, settings, request_id=request_id, approver_user_id=2001,
                                 approve=False, now=NOW))

    refuse(first.request_id)
    for n in (3, 4):  # two more tries after refusals: three claims in a day
        outcome = claim_as(777, n)
        assert outcome.result == Claim.REQUESTED
        refuse(outcome.request_id)
    assert claim_as(777, 5).result == Claim.TOO_MANY
    assert claim_as(777, 5, NOW + timedelta(days=2)).result == Claim.REQUESTED


def test_invalid_and_unknown_nip(db, settings):
    seed(db, settings)
    assert db.call(lambda s: claim(s, settings, telegram_user_id=1, telegram_name="X",
                                   nip="123", now=NOW)).result == Claim.INVALID_NIP
    assert db.call(lambda s: claim(s, settings, telegram_user_id=1, telegram_name="X",
                                   nip="9" * 18, now=NOW)).result == Claim.UNKNOWN_NIP


def test_a_decision_names_the_decider_as_the_roster_does(db, settings):
    """The notes on every copy of a request say who decided: the roster's name (as leave
    decisions do), not whatever the decider calls themselves on Telegram."""
    seed(db, settings)
    request = db.call(lambda s: claim(s, settings, telegram_user_id=777, telegram_name="X",
                                      nip=nip(2), now=NOW))
    outcome = db.call(lambda s: decide(s, settings, request_id=request.request_id,
                                       approver_user_id=2001, approve=True, now=NOW,
                                       by="Hendra 🚀"))
    assert outcome.result == Decision.APPROVED
    assert outcome.decided_by == "Hendra Gunawan"
    assert db.call(lambda s: decider_name(s, 5555, "Admin Pusat")) == "Admin Pusat"
    assert db.call(lambda s: decider_name(s, 5555, None)) == "5555"
