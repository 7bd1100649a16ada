"""Shared by the announcement tests: a Kanwil of three units, its people, and a Satgas member.

Kanwil Sulawesi Tengah: Lapas Palu (from config.example.toml: Regu A-D and an administration
group), Rutan Palu (Regu 1-3, no administration group) and LPKA Palu (Regu 1-4 and an
administration group): 5 + 3 + 5 = 13 groups. Lapas Cilacap (Kanwil Jawa Tengah) stays outside.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from bot.org.models import RoleGrant, Unit
from bot.org.units import sync_config
from bot.platform.config import Settings
from bot.platform.config_loading import parse_settings
from tests.factories import add_employee

ROOT = Path(__file__).resolve().parents[2]
KANWIL = "Kanwil Sulawesi Tengah"

SATGAS, SATGAS_UNIT, ADMIN = 6001, 6002, 6100
KALAPAS_PALU, KALAPAS_RUTAN = 5000001, 5000003
BUDI, SARI, ANDI, RAHMAT, LINA, FAJAR, MAYA, AGUS, STRANGER = (
    3001, 3002, 3003, 3101, 3102, 3201, 3202, 4001, 9999)

PALU_A, PALU_B, PALU_ADMIN = -1001000000001, -1001000000002, -1001000000099
RUTAN_1, RUTAN_2 = -1003000000001, -1003000000002
LPKA_1, LPKA_ADMIN = -1004000000001, -1004000000099
CILACAP_I = -1002000000001


def _unit(code: str, name: str, kind: str, kalapas: int, regu: list[tuple[str, int]],
          admin_group: int | None) -> dict:
    names = [n for n, _ in regu]
    cycle = ["pagi", "siang", "malam", "libur"][:len(names)]
    data = {"code": code, "name": name, "kind": kind, "kanwil": KANWIL,
            "timezone": "Asia/Makassar", "kalapas_chat_id": kalapas,
            "regu": [{"name": n, "chat_id": c} for n, c in regu],
            "rotation": {"anchor_date": "2024-11-01", "cycle": cycle, "order": names}}
    if admin_group is not None:
        data["admin_group_chat_id"] = admin_group
    return data


def kanwil_settings(**announcements: float) -> Settings:
    """config.example.toml plus two more units in Lapas Palu's Kanwil."""
    data = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    data["units"] = [
        *data["units"],
        _unit("rutan-palu", "Rutan Kelas IIA Palu", "Rutan", KALAPAS_RUTAN,
              [("Regu 1", RUTAN_1), ("Regu 2", RUTAN_2), ("Regu 3", -1003000000003)], None),
        _unit("lpka-palu", "LPKA Kelas II Palu", "LPKA", 5000004,
              [(f"Regu {i}", -1004000000000 - i) for i in range(1, 5)], LPKA_ADMIN),
    ]
    data["telegram"]["admin_user_ids"] = [ADMIN]
    if announcements:
        data["announcements"] = {**data.get("announcements", {}), **announcements}
    return parse_settings(data, "test settings")


def unit_id(session: Session, code: str) -> int:
    return session.exec(select(Unit.id).where(Unit.code == code)).one()


def seed(session: Session, settings: Settings, now: datetime) -> None:
    """Twelve people in the Kanwil (three of them unregistered), one guard outside it."""
    sync_config(session, settings, now)
    add_employee(session, "lapas-palu", 1, "Yusuf Satgas", "staf", None, SATGAS, True)
    add_employee(session, "lapas-palu", 2, "Kalapas Palu", "kalapas", None, KALAPAS_PALU, True)
    add_employee(session, "lapas-palu", 3, "Budi Santoso", "anggota", "Regu A", BUDI, True)
    add_employee(session, "lapas-palu", 4, "Sari Wulandari", "anggota", "Regu A")
    add_employee(session, "lapas-palu", 5, "Andi Pratama", "anggota", "Regu B", ANDI, True)
    add_employee(session, "rutan-palu", 6, "Rahmat Hidayat", "anggota", "Regu 1", RAHMAT, True)
    add_employee(session, "rutan-palu", 7, "Lina Kartika", "anggota", "Regu 2")
    add_employee(session, "rutan-palu", 8, "Kalapas Rutan", "kalapas", None, KALAPAS_RUTAN, True)
    add_employee(session, "lpka-palu", 9, "Fajar Nugroho", "anggota", "Regu 1", FAJAR, True)
    add_employee(session, "lpka-palu", 10, "Maya Sari", "staf", None, MAYA, True)
    add_employee(session, "lpka-palu", 11, "=Tono Formula", "staf", None)
    add_employee(session, "lpka-palu", 12, "Hadi Saputra", "anggota", "Regu 1", 3203, True)
    add_employee(session, "lapas-cilacap", 13, "Agus Salim", "anggota", "Regu I", AGUS, True)
    at = datetime(2024, 1, 1, tzinfo=UTC)
    session.add(RoleGrant(telegram_user_id=SATGAS, role="satgas", kanwil=KANWIL, granted_at=at))
    session.add(RoleGrant(telegram_user_id=SATGAS_UNIT, role="satgas",
                          unit_id=unit_id(session, "rutan-palu"), granted_at=at))
    session.flush()
