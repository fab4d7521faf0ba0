"""Files into MariaDB: IDMap through auto-increment (lastrowid), IDMap Lookup, upsert, resume from checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncmy

from gateway.etl.engine import execute
from gateway.etl.load import load_job
from gateway.etl.state import RunStore

from .conftest import maria_exec, write_job


async def _fetch(maria: dict[str, Any], sql: str) -> list[tuple]:
    conn = await asyncmy.connect(**maria)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
            return [tuple(r) for r in await cur.fetchall()]
    finally:
        conn.close()


def _job(maria: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "opd",
        "batch_size": 4,
        "connections": {"db": {"kind": "mysql", **maria}},
        "steps": [
            {
                "name": "staff",
                "source": {"file": "staff.jsonl", "format": "jsonl", "key": ["nip"]},
                "target": {"connection": "db", "table": "staff"},
                "idmap": "id",
                "columns": {"unit_id": {"from": "unit", "lookup": "units"}},
            },
            {
                "name": "units",
                "source": {"file": "units.csv", "format": "csv", "key": ["kode"]},
                "target": {"connection": "db", "table": "units"},
                "idmap": "id",
                "columns": {"active": {"from": "aktif"}},
            },
        ],
    }


async def test_files_into_mariadb_with_idmap(tmp_path: Path, store: RunStore, maria: dict) -> None:
    await maria_exec(
        maria,
        "CREATE TABLE units (id INT AUTO_INCREMENT PRIMARY KEY, kode VARCHAR(10) NOT NULL UNIQUE, "
        "nama VARCHAR(100) NOT NULL, active TINYINT(1) NOT NULL) AUTO_INCREMENT = 100",
        "CREATE TABLE staff (id BIGINT AUTO_INCREMENT PRIMARY KEY, nip VARCHAR(18) NOT NULL, "
        "nama VARCHAR(100) NOT NULL, unit_id INT NOT NULL, gaji DECIMAL(12,2), "
        "FOREIGN KEY (unit_id) REFERENCES units(id)) AUTO_INCREMENT = 500",
    )
    (tmp_path / "units.csv").write_text(
        "kode,nama,aktif\nBPD,Bappeda,ya\nDKS,Dinas Kesehatan,tidak\nDPN,Dinas Pendidikan,1\n"
    )
    staff = [
        {
            "nip": f"19800101{i:010d}",
            "nama": f"Pegawai {i}",
            "unit": ["BPD", "DKS", "DPN"][i % 3],
            "gaji": f"{1000 + i}.50",
        }
        for i in range(10)
    ]
    staff.append({"nip": "X", "nama": "Tanpa unit", "unit": "ZZZ"})
    (tmp_path / "staff.jsonl").write_text("".join(json.dumps(s) + "\n" for s in staff))
    job = _job(maria)
    path = write_job(tmp_path, job)
    record = await store.create_run("opd", str(path), {})
    assert await execute(load_job(path), tmp_path, record.id, store) == "failed"
    assert (await store.get_run(record.id)).error == (
        "job opd: error budget exceeded: 1 rows rejected, budget 0; first in this batch: step staff, line 11, "
        "column unit_id: no IDMap entry for units key 'ZZZ' (step units)"
    )
    assert await _fetch(maria, "SELECT count(*) FROM staff") == [(8,)]  # two batches of four committed
    job["error_budget"] = 1  # the operator accepts one bad row and resumes the same run
    write_job(tmp_path, job)
    state = await execute(load_job(path), tmp_path, record.id, store)
    assert state == "succeeded", (await store.get_run(record.id)).error
    done = await store.get_run(record.id)
    assert done.steps["units"]["written"] == 3
    assert done.steps["staff"] == {**done.steps["staff"], "read": 11, "written": 10, "rejected": 1}
    assert done.reconcile["staff"]["target_rows"] == 10 and done.reconcile["units"]["match"] is True

    units = dict(await _fetch(maria, "SELECT kode, id FROM units"))
    assert units == {"BPD": 100, "DKS": 101, "DPN": 102}
    assert await _fetch(maria, "SELECT kode, active FROM units ORDER BY id") == [("BPD", 1), ("DKS", 0), ("DPN", 1)]
    rows = await _fetch(maria, "SELECT nip, unit_id, gaji FROM staff ORDER BY id")
    assert [(r[0], r[1]) for r in rows] == [(s["nip"], units[s["unit"]]) for s in staff[:10]]
    assert str(rows[3][2]) == "1003.50"
    assert await _fetch(maria, "SELECT row_label, column_name, reason FROM splp_etl_rejected") == [
        ("line 11", "unit_id", "no IDMap entry for units key 'ZZZ' (step units)")
    ]

    rerun = await store.create_run("opd", str(path), {})
    assert await execute(load_job(path), tmp_path, rerun.id, store) == "succeeded"
    assert await _fetch(maria, "SELECT count(*) FROM staff") == [(10,)]  # IDMap Sync: updated, not inserted
