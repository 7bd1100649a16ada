"""Finding employees and regu by what people type: a NIP (or, as digits, any part of it) or any
part of a name; a regu's name (`A`, `regu a`). One search for the reports (/status, /regu) and
for the unit commands (/cuti, /tukar, ...)."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, func, select

from bot.org.models import Employee, Regu


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


def find_regus(session: Session, query: str, *, unit_ids: Collection[int],
               partial: bool = True) -> list[Regu]:
    """Active regu of `unit_ids` named `query`: `A`, `regu a`, `Regu A` (any case). With
    `partial`, when no name is exact, any regu whose name contains `query`."""
    q = " ".join(query.casefold().split())
    regus = list(session.exec(
        select(Regu).where(col(Regu.unit_id).in_(list(unit_ids)), Regu.active)
        .order_by(col(Regu.unit_id), col(Regu.name))))
    exact = [r for r in regus if r.name.casefold() in (q, f"regu {q}")]
    if exact or not partial:
        return exact
    return [r for r in regus if q and q in r.name.casefold()]
