"""Resident signing keys: encrypted at rest, 0600, rotation with an overlap window; secrets hashed."""

from __future__ import annotations

import json
import os
import stat

import pytest

from gateway.config.consumers import ApplicationConfig
from gateway.config.keymanagers import ResidentConfig
from keymanager import keystore
from keymanager.errors import InvalidToken
from keymanager.hashing import hash_api_key, hash_secret, main, verify_secret
from keymanager.resident import ResidentKeyManager


def config(tmp_path, **extra) -> ResidentConfig:
    return ResidentConfig(
        type="resident", key_file=str(tmp_path / "keys.json"), passphrase_env="SPLP_TEST_NO_ENV", **extra
    )


def test_key_file_is_encrypted_and_private(tmp_path):
    ring = keystore.load(config(tmp_path))
    text = (tmp_path / "keys.json").read_text()
    assert "ENCRYPTED PRIVATE KEY" in text and "BEGIN PRIVATE KEY" not in text
    for name in ("keys.json", "keys.json.pass"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    again = keystore.load(config(tmp_path))
    assert again.active.kid == ring.active.kid  # the same key comes back, decrypted


def test_passphrase_from_env_and_wrong_passphrase(tmp_path, monkeypatch):
    monkeypatch.setenv("SPLP_TEST_PASS", "right-horse-battery")
    cfg = config(tmp_path).model_copy(update={"passphrase_env": "SPLP_TEST_PASS"})
    keystore.load(cfg)
    assert not (tmp_path / "keys.json.pass").exists()
    monkeypatch.setenv("SPLP_TEST_PASS", "wrong")
    with pytest.raises(keystore.KeyStoreError, match="cannot be decrypted"):
        keystore.load(cfg)


def test_world_readable_passphrase_file_refused(tmp_path):
    keystore.load(config(tmp_path))
    os.chmod(tmp_path / "keys.json.pass", 0o644)
    with pytest.raises(keystore.KeyStoreError, match="chmod 600"):
        keystore.load(config(tmp_path))


def test_rotation_with_overlap(tmp_path):
    cfg = config(tmp_path, rotate_after=100, overlap=50, algorithm="ES256")
    first = keystore.load(cfg, now=1000.0)
    assert first.active.alg == "ES256"
    same = keystore.load(cfg, now=1050.0)
    assert same.active.kid == first.active.kid and len(same.keys) == 1
    rotated = keystore.load(cfg, now=1100.0)
    assert rotated.active.kid != first.active.kid
    assert set(rotated.keys) == {first.active.kid, rotated.active.kid}  # the old key is still published
    assert {k["kid"] for k in rotated.jwks()["keys"]} == set(rotated.keys)
    assert all("d" not in k for k in rotated.jwks()["keys"])
    later = keystore.load(cfg, now=1151.0)
    assert set(later.keys) == {rotated.active.kid}  # past the overlap: dropped
    stored = json.loads((tmp_path / "keys.json").read_text())
    assert [k["kid"] for k in stored["keys"]] == [rotated.active.kid]


async def test_tokens_of_a_retired_key_valid_during_overlap_only(tmp_path):
    cfg = config(tmp_path, overlap=3600)
    km = ResidentKeyManager(cfg)
    app = ApplicationConfig(id="a", tenant="t", scopes=("s",))
    old = (await km.issue(app, frozenset({"s"}), None, with_refresh=False))["access_token"]
    await km.reload_keys(force_rotate=True)
    new = (await km.issue(app, frozenset({"s"}), None, with_refresh=False))["access_token"]
    assert (await km.authenticate(old)).application == "a"
    assert (await km.authenticate(new)).scopes == {"s"}
    no_overlap = ResidentKeyManager(cfg.model_copy(update={"overlap": 0}))
    await no_overlap.reload_keys(force_rotate=True)
    with pytest.raises(InvalidToken, match="no key"):
        await no_overlap.authenticate(old)


def test_secret_hashing():
    stored = hash_secret("s3cret", n=2**10)
    assert stored.startswith("scrypt$1024$8$1$") and "s3cret" not in stored
    assert verify_secret("s3cret", stored) and not verify_secret("s3cres", stored)
    assert not verify_secret("s3cret", "scrypt$garbage") and not verify_secret("x", "plain")
    assert hash_api_key("k") == "sha256:" + __import__("hashlib").sha256(b"k").hexdigest()


def test_hashing_cli(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("abc\n"))
    assert main(["apikey"]) == 0
    assert capsys.readouterr().out.strip() == hash_api_key("abc")
    assert main(["new-apikey"]) == 0
    out = capsys.readouterr().out
    key = out.split()[1]
    assert hash_api_key(key) in out
    assert main(["nonsense"]) == 2


async def test_es256_tokens_and_a_rotation_by_another_worker(tmp_path):
    cfg = config(tmp_path, algorithm="ES256")
    worker_a, worker_b = ResidentKeyManager(cfg), ResidentKeyManager(cfg)
    app = ApplicationConfig(id="a", tenant="t")
    first = (await worker_a.issue(app, frozenset(), None, with_refresh=False))["access_token"]
    assert (await worker_b.authenticate(first)).application == "a"
    await worker_a.reload_keys(force_rotate=True)  # worker A rotates the shared key file
    second = (await worker_a.issue(app, frozenset(), None, with_refresh=False))["access_token"]
    worker_b._last_reload = 0.0  # past the reload cooldown
    assert (await worker_b.authenticate(second)).application == "a"  # unknown kid: B re-reads the key file
    assert worker_b.ring.active.kid == worker_a.ring.active.kid
