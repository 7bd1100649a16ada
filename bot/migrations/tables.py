"""Every table of every capability, on one metadata: what Alembic's environment (env.py)
migrates and compares, and the migrations-vs-models test checks. A capability's models module
registers its tables when imported; each imports the modules its foreign keys name, so one
alone is usable, but only this module loads them all.

Explicit imports, not a scan of module names: a module that moves or is renamed fails here at
once instead of dropping its tables. A new models module is added here.
"""

from sqlmodel import SQLModel

import bot.announcements.models  # noqa: F401
import bot.apel.models  # noqa: F401
import bot.audit.models  # noqa: F401
import bot.delivery.models  # noqa: F401
import bot.org.models  # noqa: F401
import bot.platform.models  # noqa: F401
import bot.reports.models  # noqa: F401  (indexes only)
import bot.unit_admin.models  # noqa: F401

metadata = SQLModel.metadata
