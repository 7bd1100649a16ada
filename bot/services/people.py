"""Finding employees by what people type: a NIP (or, as digits, any part of it) or any part of
a name. One search for /status and for the unit commands (/cuti, /tukar, ...)."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, func, select

from bot.models import Employee


def search(session: Session, query: str, *, unit_ids: Collection[int] | None,
           regu_id: int | None = None, include_inactive: bool = False,
           limit: int) -> list[Employee]:
    """Employees whose NIP contains `query` (all digits) or whose name contains it, any case.

    Only in `unit_ids` (None: every unit) and, if given, in regu `regu_id`; active people only
    unless `include_inactive` (then active ones first). Up to `limit` + 1 rows, so a caller can
    tell that there are more than it shows. An empty query finds nobody."""
    q = " ".join(query.split())
    if not q:
        return []
    stmt = select(Employee)
    if not include_inactive:
        stmt = stmt.where(Employee.active)
    if unit_ids is not None:
        stmt = stmt.where(col(Employee.unit_id).in_(list(unit_ids)))
    if regu_id is not None:
        stmt = stmt.where(Employee.regu_id == regu_id)
    if q.isdigit():
        stmt = stmt.where(col(Employee.nip).contains(q, autoescape=True))
    else:
        stmt = stmt.where(func.lower(Employee.name).contains(q.lower(), autoescape=True))
    stmt = stmt.order_by(col(Employee.active).desc(), col(Employee.name), col(Employee.id))
    return list(session.exec(stmt.limit(limit + 1)))
