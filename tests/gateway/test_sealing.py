import base64
import stat

import pytest

from gateway.sealing import MasterKey, SealingError


def test_round_trip_and_owner_binding(tmp_path, monkeypatch):
    monkeypatch.delenv("SPLP_MASTER_KEY", raising=False)
    monkeypatch.delenv("SPLP_MASTER_KEY_FILE", raising=False)
    key = MasterKey.load(tmp_path / "master.key")
    sealed = key.seal(b"s3cret", owner="etl-connection:1")
    assert b"s3cret" not in sealed.encode()
    assert key.unseal(sealed, owner="etl-connection:1") == b"s3cret"
    with pytest.raises(SealingError, match="does not open"):
        key.unseal(sealed, owner="etl-connection:2")
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600
    # The file is created once and reused.
    assert MasterKey.load(tmp_path / "master.key").unseal(sealed, owner="etl-connection:1") == b"s3cret"


def test_wrong_key_and_tampering_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SPLP_MASTER_KEY", base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("="))
    sealed = MasterKey.load(tmp_path / "unused").seal(b"x", owner="o")
    assert not (tmp_path / "unused").exists()
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealingError):
        MasterKey.load(tmp_path / "unused").unseal(tampered, owner="o")
    monkeypatch.setenv("SPLP_MASTER_KEY", base64.urlsafe_b64encode(b"z" * 32).decode())
    with pytest.raises(SealingError):
        MasterKey.load(tmp_path / "unused").unseal(sealed, owner="o")


@pytest.mark.parametrize("value", ["short", "!!!not base64!!!"])
def test_bad_master_key_names_its_source(monkeypatch, tmp_path, value):
    monkeypatch.setenv("SPLP_MASTER_KEY", value)
    with pytest.raises(SealingError, match="SPLP_MASTER_KEY"):
        MasterKey.load(tmp_path / "unused")
