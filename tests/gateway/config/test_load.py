"""Config loading: valid files load, every error names file, key path and the expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from policies import REGISTRY

GOOD_API = """
apis:
  - name: Pegawai
    context: /bappenas/pegawai
    version: v1
    tenant: bappenas
    backend: {endpoints: ["http://127.0.0.1:9000"]}
    resources: ["GET /pegawai/{nip}"]
"""


def write(tmp_path: Path, main: str, **files: str) -> Path:
    (tmp_path / "gateway.yaml").write_text(main)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path / "gateway.yaml"


def errors_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_defaults_and_includes(tmp_path):
    path = write(tmp_path, "include: ['apis-*.yaml']\n", **{"apis-a.yaml": GOOD_API})
    config = load_config(path)
    assert config.gateway.gateway.listen.port == 8000
    assert config.gateway.upstream.timeouts.read == 30.0
    (api,) = config.apis
    assert api.config.prefix == "/bappenas/pegawai/v1" and api.source.endswith("apis-a.yaml")
    assert config.files[1].endswith("apis-a.yaml")


def test_unknown_key_names_the_path_and_allowed_keys(tmp_path):
    path = write(tmp_path, "gateway:\n  listen: {host: 0.0.0.0, prot: 8000}\n")
    assert errors_of(path) == (
        f"{path}: 1 error\n  gateway.listen.prot: unknown key 'prot'; expected one of: host, port"
    )


def test_all_errors_at_once_with_values(tmp_path):
    path = write(
        tmp_path,
        "upstream:\n  timeouts: {connect: 5 minits}\n  retries: -1\ninclude: ['apis.yaml']\n",
        **{"apis.yaml": GOOD_API.replace("http://127.0.0.1:9000", "ftp://x").replace("GET /pegawai", "FETCH /pegawai")},
    )
    message = errors_of(path)
    assert f"{path}: 2 errors" in message
    assert (
        "upstream.timeouts.connect: '5 minits' is not a duration; "
        "expected a number of seconds or e.g. '500ms', '30s', '2m'" in message
    )
    assert "upstream.retries: -1: Input should be greater than or equal to 0" in message
    assert f"{tmp_path / 'apis.yaml'}: 2 errors" in message
    assert (
        "apis[0].backend.endpoints[0].url: 'ftp://x' is not a backend URL; expected http://host[:port][/base-path]"
        in message
    )
    assert "apis[0].resources[0].methods: 'FETCH' is not an HTTP method" in message


def test_duplicate_context_and_version(tmp_path):
    path = write(tmp_path, "include: ['a.yaml', 'b.yaml']\n", **{"a.yaml": GOOD_API, "b.yaml": GOOD_API})
    message = errors_of(path)
    assert "apis[0].context: '/bappenas/pegawai/v1' is already defined by" in message and "a.yaml:apis[0]" in message


def test_policy_errors_are_located(tmp_path):
    api = GOOD_API + "    policies:\n      - headers: {request: {set: {Content-Length: '1'}}}\n      - nosuch: {}\n"
    path = write(
        tmp_path,
        "include: ['a.yaml']\npolicies:\n  - cors: {allow_origins: ['*'], allow_credentials: true}\n",
        **{"a.yaml": api},
    )
    message = errors_of(path)
    assert "policies[0].cors.allow_credentials: allow_credentials requires explicit allow_origins, not *" in message
    assert "apis[0].policies[0].headers.request.set: 'Content-Length' is managed by the gateway" in message
    known = ", ".join(sorted(REGISTRY))
    assert f"apis[0].policies[1].nosuch: unknown policy; expected one of: {known}" in message


def test_env_interpolation(tmp_path, monkeypatch):
    monkeypatch.setenv("SPLP_TEST_PORT", "8123")
    path = write(tmp_path, "gateway:\n  listen: {port: '${SPLP_TEST_PORT}', host: '${SPLP_NOT_SET:-127.0.0.2}'}\n")
    listen = load_config(path).gateway.gateway.listen
    assert (listen.host, listen.port) == ("127.0.0.2", 8123)
    missing = write(tmp_path, "gateway:\n  group: '${SPLP_NOT_SET_EITHER}'\n")
    assert "environment variable SPLP_NOT_SET_EITHER is not set and has no default" in errors_of(missing)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gateway: [1, 2]", "gateway: Input should be a valid dictionary or instance of GatewaySection"),
        ("a: b: c", "not valid YAML"),
        ("- 1", "expected a mapping at the top level, got list"),
        ("include: ['missing.yaml']", "include: 'missing.yaml' does not exist"),
    ],
)
def test_broken_files(tmp_path, text, expected):
    assert expected in errors_of(write(tmp_path, text))


def test_bad_context_and_templates(tmp_path):
    api = GOOD_API.replace("/bappenas/pegawai", "/bappenas/../x").replace("GET /pegawai/{nip}", "GET /a/*/b")
    message = errors_of(write(tmp_path, "include: ['a.yaml']\n", **{"a.yaml": api}))
    assert "apis[0].context: '/bappenas/../x' is not a context" in message
    assert "apis[0].resources[0].path: '/a/*/b': '*' may only be the last segment" in message


def test_shipped_configs_validate():
    root = Path(__file__).resolve().parents[3]
    config = load_config(root / "conf" / "gateway.yaml")
    assert any(api.config.prefix == "/kominfo/institution/v1" for api in config.apis)


def test_yaml_errors_name_line_and_column(tmp_path):
    api = GOOD_API.replace("    version: v1\n", "    version: v1\n   tenant: [x\n")
    message = errors_of(write(tmp_path, "include: ['a.yaml']\n", **{"a.yaml": api}))
    assert f"{tmp_path / 'a.yaml'}: 1 error\n  line 6, column 4: not valid YAML: expected <block end>" in message
    assert "(while parsing a block collection, line 3, column 3)" in message
    unclosed = errors_of(write(tmp_path, "gateway: {listen: {port: 1}\n"))
    assert "line 2, column 1: not valid YAML: expected ',' or '}', but got '<stream end>'" in unclosed
    assert "(while parsing a flow mapping, line 1, column 10)" in unclosed


@pytest.mark.parametrize(
    "context", ["/_health", "/_x/y", "/oauth2", "/oauth2/token", "/.well-known", "/.well-known/jwks"]
)
def test_contexts_on_the_gateways_own_paths_are_refused(tmp_path, context):
    api = GOOD_API.replace("/bappenas/pegawai", context)
    message = errors_of(write(tmp_path, "include: ['a.yaml']\n", **{"a.yaml": api}))
    assert f"apis[0].context: '{context}' collides with the gateway's own paths" in message


def test_reserved_prefixes_match_whole_segments(tmp_path):
    for context in ("/oauth2x/a", "/a/_internal", "/a/oauth2"):
        load_config(
            write(tmp_path, "include: ['a.yaml']\n", **{"a.yaml": GOOD_API.replace("/bappenas/pegawai", context)})
        )


def test_policy_errors_are_reported_with_structure_errors(tmp_path):
    """One pass: a file whose structure is wrong still has its policies checked, and gateway.yaml too."""
    api = GOOD_API.replace("    version: v1\n", "    version: v1\n    colour: red\n") + (
        "    policies:\n      - throttle: {api: [{name: x, limit: '10/minit'}]}\n      - nosuch: {}\n"
    )
    main = "gateway: {workers: 0}\npolicies:\n  - cors: {allow_origins: 5}\ninclude: ['a.yaml']\n"
    message = errors_of(write(tmp_path, main, **{"a.yaml": api}))
    assert "gateway.workers: 0: Input should be greater than or equal to 1" in message
    assert "policies[0].cors.allow_origins" in message
    assert "apis[0].colour: unknown key 'colour'" in message
    assert "apis[0].policies[0].throttle.api[0].limit" in message
    assert "apis[0].policies[1].nosuch: unknown policy" in message
