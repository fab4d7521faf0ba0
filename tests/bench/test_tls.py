"""bench/tls.py's pure parts: the generated gateway and nginx configs for the TLS scenarios (no load here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import tls
from gateway.config.load import load_config


@pytest.mark.parametrize("name", sorted(tls.MODES))
def test_tls_scenario_configs(tmp_path: Path, name: str) -> None:
    mode = tls.MODES[name]
    pki = tls.make_pki(tmp_path / "pki")
    config = load_config(tls.gateway_conf(tmp_path, pki, mode))
    listener = config.gateway.gateway.listen.tls
    assert listener is not None and listener.cert == pki["server.pem"]
    assert bool(listener.client_ca) is mode.mutual
    assert [spec.name for spec in config.apis[0].policies] == (["mtls"] if mode.mutual else [])
    nginx = tls.nginx_tls_conf(tmp_path, 18443, "http://127.0.0.1:18080", pki, mode)
    assert "listen 127.0.0.1:18443 ssl" in nginx and f"ssl_certificate {pki['server.pem']};" in nginx
    assert ("ssl_verify_client on;" in nginx) is mode.mutual
