"""`apel-bot audit ...` and `apel-bot verify` end to end on a SQLite file."""

from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import text

from bot.audit import kinds
from bot.audit.chain import append
from bot.cli import main
from bot.platform.db import Database
from tests.audit.test_audit_support import drop_triggers, edited_payload

CONFIG = """
[database]
url = "sqlite:///{dir}/apel.db"

[audit]
key_file = "{dir}/keys/audit.key"
origin = "apel-bot"

[period]
name = "Pilkada 2024"
start = "2024-09-01"
end = "2024-12-31"
pledge_points = ["Netral", "Tanpa konflik kepentingan", "Bijak bermedsos", "Tolak politik uang"]

[[units]]
code = "lapas-palu"
name = "Lapas Kelas IIA Palu"
kind = "Lapas"
kanwil = "Kanwil Sulawesi Tengah"
timezone = "Asia/Makassar"
kalapas_chat_id = 5000001
[[units.regu]]
name = "Regu A"
chat_id = -1001000000001
[[units.regu]]
name = "Regu B"
chat_id = -1001000000002
[[units.regu]]
name = "Regu C"
chat_id = -1001000000003
[[units.regu]]
name = "Regu D"
chat_id = -1001000000004
[units.rotation]
anchor_date = "2024-11-01"
"""


@pytest.fixture
def cfg(tmp_path):
    (tmp_path / "keys").mkdir(mode=0o700)  # config refuses a key file in a missing folder
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(dir=tmp_path), encoding="utf-8")
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_checkpoints_rotation_verify_and_bundle(cfg, tmp_path, capsys, clock):
    assert run(capsys, "db", "upgrade", "--config", cfg)[0] == 0
    code, out, _ = run(capsys, "audit", "public-key", "--config", cfg)
    assert code == 0
    first_key, key_id_line = out.splitlines()
    assert re.fullmatch(r"apel-bot\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}", first_key)  # 0x01 || key
    assert key_id_line == f"key id: {first_key.split('+')[1]}"
    key_file = tmp_path / "keys" / "audit.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    db = Database(f"sqlite:///{tmp_path}/apel.db")
    with db.transaction() as s:
        for n in range(12):
            append(s, kind=kinds.PLEDGE_RECORDED, actor=f"tg:{n}", at=clock.now(),
                   payload={"apel_id": 1, "employee_id": n})

    code, note, _ = run(capsys, "audit", "checkpoint", "--config", cfg)
    assert code == 0 and note.startswith("apel-bot\n12\n")
    held = tmp_path / "held.txt"
    held.write_text(note, encoding="utf-8")

    code, out, _ = run(capsys, "audit", "rotate-key", "--config", cfg)
    assert code == 0 and "new key id" in out
    history = (tmp_path / "keys" / "audit.key.pub-history").read_text().split()
    assert history[0] == first_key and len(history) == 2

    code, out, _ = run(capsys, "verify", "--config", cfg, "--checkpoint", str(held))
    assert code == 0, out
    assert out.startswith("OK: ") and "3 checkpoints, 1 held outside" in out

    bundle = tmp_path / "inspector.zip"
    code, out, _ = run(capsys, "audit", "export", "--config", cfg, "--from", "2024-11-25",
                       "--to", "2024-11-25", "--out", str(bundle))
    assert code == 0 and "12 entries (seq 1-12)" in out
    keys = [arg for k in history for arg in ("--key", k)]
    code, out, _ = run(capsys, "verify", "--bundle", str(bundle), "--checkpoint", str(held),
                       *keys)
    assert code == 0 and out.startswith("OK: ")

    with db.engine.begin() as conn:
        drop_triggers(conn)
        payload = conn.execute(text("SELECT payload FROM auditentry WHERE seq = 5")).scalar_one()
        conn.execute(text("UPDATE auditentry SET payload = :p WHERE seq = 5"),
                     {"p": edited_payload(payload)})
    db.dispose()
    code, _, err = run(capsys, "verify", "--config", cfg)
    assert code == 1
    assert "FAILED: " in err and "\n  seq 5: contents do not match" in err


def test_exposed_key_file_is_refused(cfg, tmp_path, capsys):
    assert run(capsys, "audit", "public-key", "--config", cfg)[0] == 0
    os.chmod(tmp_path / "keys" / "audit.key", 0o644)
    code, _, err = run(capsys, "audit", "public-key", "--config", cfg)
    assert code == 2
    assert "refusing to use audit signing key" in err and "chmod 600" in err


def test_verify_rejects_a_bad_key_argument(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--bundle", "x.zip", "--key", "not-a-key"])
    assert "verifier key" in capsys.readouterr().err
