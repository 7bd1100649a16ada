"""The inspector's report: one self-contained HTML page, in Indonesian, from a checked bundle.

`apel-bot audit report --bundle FILE --out laporan.html`. Everything taken from the bundle is
escaped by the template (autoescaped .html.j2); the page loads nothing from elsewhere.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot.audit.keys import VerifierKey
from bot.audit.report import Report
from bot.inspection.bundle import verify_bundle
from bot.inspection.recount import ApelFigures
from bot.platform.texts import render

LABELS = {"expected": "diharapkan", "on_time": "tepat waktu", "late": "terlambat",
          "leave": "cuti/izin", "corrected": "dikoreksi", "absent": "tidak hadir"}


def _unit_label(report: Report, unit_id: int | None) -> str:
    unit = report.units.get(unit_id) if unit_id is not None else None
    return f"{unit['name']} ({unit['code']})" if unit else f"Satuan #{unit_id}"


def by_unit(report: Report) -> list[tuple[str, list[ApelFigures]]]:
    groups: dict[str, list[ApelFigures]] = {}
    for row in sorted(report.figures, key=lambda r: (r.unit_id or 0, r.date, r.seq)):
        groups.setdefault(_unit_label(report, row.unit_id), []).append(row)
    return list(groups.items())


def _manifest(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as zf:
            data = json.loads(zf.read("manifest.json"))
            return data if isinstance(data, dict) else {}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}


def render_report(report: Report, *, bundle: Path, pinned: bool, now: datetime) -> str:
    manifest = _manifest(bundle)
    return render("audit_report", report=report, source=bundle.name, pinned=pinned,
                  origin=str(manifest.get("origin", "?")),
                  date_from=str(manifest.get("from", "?")), date_to=str(manifest.get("to", "?")),
                  generated=now.strftime("%d-%m-%Y %H.%M UTC"), figures=report.figures,
                  groups=by_unit(report), labels=LABELS) + "\n"


def write_report(bundle: str | Path, out: str | Path, *, outside: Sequence[tuple[str, str]],
                 pinned_keys: Sequence[VerifierKey], now: datetime) -> Report:
    """Check the bundle (with --recount) and write the page; returns the verification."""
    report = verify_bundle(bundle, outside=outside, pinned_keys=pinned_keys, recount=True)
    Path(out).write_text(render_report(report, bundle=Path(bundle), pinned=bool(pinned_keys),
                                       now=now), encoding="utf-8")
    return report
