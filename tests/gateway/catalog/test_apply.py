"""`splp apply`: conf/ APIs written into the catalog, idempotently, on both engines."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from gateway.catalog.api_models import ApiStatus, ApiUpdate
from gateway.catalog.apply import apply_config
from gateway.catalog.audit import Actor
from gateway.catalog.store import CatalogStore
from gateway.config.load import load_config
from tests.gateway.catalog.test_repositories import tree
from tests.gateway.conftest import api

ROOT = Path(__file__).resolve().parents[3]


def pegawai(**extra: object) -> dict[str, object]:
    return api("pegawai", ["http://10.0.0.5:9000"], context="/bappenas/pegawai", tenant="bappenas", **extra)


async def test_create_then_unchanged_then_update_then_publish(
    store: CatalogStore, write_config: Callable[..., Path]
) -> None:
    await tree(store)
    config = load_config(write_config([pegawai(resources=["GET /pegawai/{nip}"], policies=[{"cors": {}}])]))
    first = await apply_config(store, config)
    assert (first.created, first.updated, first.unchanged, first.refused) == (["/bappenas/pegawai/v1"], [], [], [])
    stored = await store.apis.find("/bappenas/pegawai", "v1")
    assert stored is not None and stored.status is ApiStatus.CREATED and stored.resources == ["GET /pegawai/{nip}"]
    # catalog-only fields set through the control API survive a re-apply
    await store.apis.update(Actor.system("test"), stored.id, ApiUpdate(tags=("asn",)))

    again = await apply_config(store, config)
    assert again.lines() == ["unchanged /bappenas/pegawai/v1"]

    changed = load_config(write_config([pegawai(resources=["GET /pegawai"], description="baru")]))
    dry = await apply_config(store, changed, dry_run=True, publish=True)
    assert dry.lines() == ["updated /bappenas/pegawai/v1", "published /bappenas/pegawai/v1"]
    assert (await store.apis.get(stored.id)).resources == ["GET /pegawai/{nip}"]  # dry run changed nothing

    done = await apply_config(store, changed, publish=True)
    assert done.lines() == ["updated /bappenas/pegawai/v1", "published /bappenas/pegawai/v1"]
    now = await store.apis.get(stored.id)
    assert (now.resources, now.description, now.tags, now.status) == (
        ["GET /pegawai"],
        "baru",
        ["asn"],
        ApiStatus.PUBLISHED,
    )
    assert (await apply_config(store, changed, publish=True)).lines() == ["unchanged /bappenas/pegawai/v1"]
    trail = await store.audit.list(object_type="api", object_id=stored.id)
    assert {e.actor_name for e in trail} >= {"system:apply"}


async def test_unknown_tenant_and_foreign_owner_are_refused(
    store: CatalogStore, write_config: Callable[..., Path]
) -> None:
    await tree(store)
    await apply_config(store, load_config(write_config([pegawai()])))
    config = load_config(
        write_config(
            [
                api("x", ["http://10.0.0.5:9000"], context="/bappenas/pegawai", tenant="jabar"),
                api("y", ["http://10.0.0.5:9000"], context="/nowhere/y", tenant="nobody"),
                api("z", ["http://10.0.0.5:9000"], context="/jabar/z", tenant="jabar"),
            ]
        )
    )
    report = await apply_config(store, config)
    assert report.created == ["/jabar/z/v1"]
    assert len(report.refused) == 2
    assert "owned by tenant 'bappenas' in the catalog, not 'jabar'" in report.refused[0]
    assert "tenant 'nobody' does not exist" in report.refused[1]
    assert (await store.apis.find("/bappenas/pegawai", "v1")).tenant == "bappenas"  # type: ignore[union-attr]


def test_cli_applies_a_config_directory(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    """The command as operators run it, against a SQLite catalog: refused lines make it exit 1."""
    catalog = f"sqlite:///{tmp_path / 'c.db'}"
    path = write_config([pegawai()])
    run = [sys.executable, "-m", "gateway.cli", "apply", str(path.parent), "--catalog", catalog]
    missing = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert "refused /bappenas/pegawai/v1" in missing.stdout and "does not exist" in missing.stdout

    import asyncio

    from gateway.catalog.store import open_store

    async def seed() -> None:
        store = await open_store(catalog)
        try:
            await tree(store)
        finally:
            await store.close()

    asyncio.run(seed())
    ok = subprocess.run([*run, "--publish"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == ["created /bappenas/pegawai/v1", "published /bappenas/pegawai/v1"]
