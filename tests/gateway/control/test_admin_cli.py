"""`splp admin create` (via add_subcommands): password from stdin, national tenant on an empty catalog,
then sign-in through the control API started on the embedded default (SQLite under var/splp/)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import stat
from pathlib import Path

import aiohttp
import pytest

from gateway.catalog.store import open_store
from gateway.control.admin_cli import add_subcommands
from gateway.control.app import create_control_app
from tests.gateway.control.conftest import loaded_config
from tests.servers import serve


def run(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> int:
    parser = argparse.ArgumentParser(prog="splp")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return int(args.func(args))


def test_create_admin_then_sign_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = "sqlite:///var/splp/catalog.db"  # the shipped default, relative to the working directory
    base = ["admin", "create", "--catalog", uri]
    assert run([*base, "--username", "root", "--tenant", "kominfo"], "", monkeypatch) == 1
    assert "no password" in capsys.readouterr().err
    assert run([*base, "--username", "root", "--tenant", "kominfo"], "short\n", monkeypatch) == 1
    assert "password: " in capsys.readouterr().err
    assert run([*base, "--username", "Root", "--tenant", "kominfo"], "a very long secret\n", monkeypatch) == 0
    assert "created super_admin 'root'" in capsys.readouterr().out
    assert run([*base, "--username", "root", "--tenant", "kominfo"], "a very long secret\n", monkeypatch) == 1
    assert "taken" in capsys.readouterr().err
    assert run([*base, "--username", "other", "--tenant", "nowhere"], "a very long secret\n", monkeypatch) == 1
    assert "no tenant 'nowhere'" in capsys.readouterr().err
    args = [*base, "--username", "ops", "--tenant", "kominfo", "--role", "tenant_admin"]
    assert run(args, "another long secret\n", monkeypatch) == 0

    async def check() -> None:
        store = await open_store(uri)
        try:
            national = await store.tenants.get_by_slug("kominfo")
            assert national.kind == "national" and national.parent_id is None
            assert [u.username for u in await store.users.list(tenant_ids=[national.id])] == ["ops", "root"]
        finally:
            await store.close()
        app = create_control_app(loaded_config())  # defaults: storage.catalog and var/splp/ key
        async with serve(app) as port, aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/api/v1"
            async with http.post(f"{url}/auth/token", json={"username": "root", "password": "a very long secret"}) as r:
                assert r.status == 200
                token = (await r.json())["access_token"]
            async with http.get(f"{url}/tenants", headers={"authorization": f"Bearer {token}"}) as r:
                assert r.status == 200 and [t["slug"] for t in (await r.json())["items"]] == ["kominfo"]

    asyncio.run(check())
    assert stat.S_IMODE(os.stat("var/splp/control-token-key.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat("var/splp/catalog.db").st_mode) == 0o600
