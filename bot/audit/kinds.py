"""Every event kind the audit chain accepts, in one place. `append` refuses any other string."""

from __future__ import annotations

PLEDGE_RECORDED = "pledge.recorded"

REGISTRATION_REQUESTED = "registration.requested"
REGISTRATION_APPROVED = "registration.approved"
REGISTRATION_REFUSED = "registration.refused"

ROSTER_IMPORTED = "roster.imported"
EMPLOYEE_CHANGED = "employee.changed"

LEAVE_ADDED = "leave.added"
LEAVE_ENDED = "leave.ended"
LEAVE_CHANGED = "leave.changed"  # a leave import changed the reason of a known leave

APEL_OPENED = "apel.opened"
APEL_CLOSED = "apel.closed"
APEL_MISSED = "apel.missed"
REPORT_SENT = "report.sent"

ANNOUNCEMENT_SENT = "announcement.sent"
ANNOUNCEMENT_ACKNOWLEDGED = "announcement.acknowledged"
ANNOUNCEMENT_WITHDRAWN = "announcement.withdrawn"

ROLE_GRANTED = "role.granted"
ROLE_REVOKED = "role.revoked"

# Running the unit from Telegram (issue 9): duty swaps, the integrity pact, corrections.
SWAP_RECORDED = "swap.recorded"
SWAP_REVOKED = "swap.revoked"
PAKTA_SIGNED = "pakta.signed"
CORRECTION_RECORDED = "correction.recorded"

# Written by the audit package itself.
KEY_ROTATED = "key.rotated"
CHECKPOINT_SIGNED = "checkpoint.signed"
# `apel-bot audit baseline`: an operator vouches, on the record, for rows written before the
# chain stated them (bot/inspection/baseline.py): the header, then the rows in chunks.
BASELINE_RECORDED = "baseline.recorded"
BASELINE_ROWS = "baseline.rows"

KINDS: frozenset[str] = frozenset({
    PLEDGE_RECORDED,
    REGISTRATION_REQUESTED, REGISTRATION_APPROVED, REGISTRATION_REFUSED,
    ROSTER_IMPORTED, EMPLOYEE_CHANGED,
    LEAVE_ADDED, LEAVE_ENDED, LEAVE_CHANGED,
    APEL_OPENED, APEL_CLOSED, APEL_MISSED, REPORT_SENT,
    ANNOUNCEMENT_SENT, ANNOUNCEMENT_ACKNOWLEDGED, ANNOUNCEMENT_WITHDRAWN,
    ROLE_GRANTED, ROLE_REVOKED,
    SWAP_RECORDED, SWAP_REVOKED, PAKTA_SIGNED, CORRECTION_RECORDED,
    KEY_ROTATED, CHECKPOINT_SIGNED, BASELINE_RECORDED, BASELINE_ROWS,
})
