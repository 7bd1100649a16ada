"""Indexes the reports need on the apel core's tables (bot/apel/models.py; no new tables).

- ApelExpected by employee: /status reads one person's apel without scanning every roster.
"""

from __future__ import annotations

from sqlalchemy import Index

from bot.apel.models import ApelExpected

Index("ix_apelexpected_employee_apel", ApelExpected.__table__.c.employee_id,
      ApelExpected.__table__.c.apel_id)
