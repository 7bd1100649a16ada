"""One `apel-bot run` per database (bot/platform/instance_lease.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.platform.instance_lease import LEASE_TTL, Holder, LeaseHeld, acquire, release, renew

T0 = datetime(2024, 11, 26, 0, 0, tzinfo=UTC)
A = Holder("host-a", 101, "aaaa")
B = Holder("host-b", 202, "bbbb")


def test_the_second_is_refused_until_the_first_falls_silent(db):
    db.call(lambda s: acquire(s, A, T0))
    with pytest.raises(LeaseHeld, match="host host-a, pid 101"):
        db.call(lambda s: acquire(s, B, T0 + timedelta(seconds=5)))
    assert db.call(lambda s: renew(s, A, T0 + timedelta(seconds=10)))
    with pytest.raises(LeaseHeld):
        db.call(lambda s: acquire(s, B, T0 + timedelta(seconds=10) + LEASE_TTL))
    # No heartbeat for longer than the TTL: taken over, and A learns it at its next beat.
    db.call(lambda s: acquire(s, B, T0 + timedelta(seconds=11) + LEASE_TTL))
    assert not db.call(lambda s: renew(s, A, T0 + timedelta(seconds=12) + LEASE_TTL))


def test_a_dead_process_on_this_host_is_taken_over_at_once(db):
    import os
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    gone.wait()
    here = Holder.this_process()
    db.call(lambda s: acquire(s, Holder(here.host, gone.pid, "dead"), T0))
    db.call(lambda s: acquire(s, here, T0 + timedelta(seconds=1)))  # no waiting out the TTL
    alive = Holder(here.host, os.getpid(), "live")
    with pytest.raises(LeaseHeld):
        db.call(lambda s: acquire(s, alive, T0 + timedelta(seconds=2)))


def test_a_clean_stop_gives_the_lease_back(db):
    db.call(lambda s: acquire(s, A, T0))
    db.call(lambda s: release(s, A))
    db.call(lambda s: acquire(s, B, T0 + timedelta(seconds=1)))
