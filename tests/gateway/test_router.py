from __future__ import annotations

import pytest

from gateway.config.model import ResourceConfig
from gateway.router import PrefixRouter, ResourceMatcher


def matcher(*specs: str) -> ResourceMatcher:
    return ResourceMatcher([ResourceConfig.model_validate(s) for s in specs])


def test_longest_prefix_wins_on_whole_segments():
    router = PrefixRouter({"/a/v1": "short", "/a/b/v1": "long"})
    assert router.match("/a/b/v1/x") == ("long", "/x")
    assert router.match("/a/v1") == ("short", "")
    assert router.match("/a/v10") is None
    assert router.match("/a/b/v1x") is None
    assert router.match("/") is None


def test_templates_literals_before_params():
    m = matcher("GET /pegawai/{nip}", "GET /pegawai/search", "PUT /pegawai/{nip}", "GET /unit/{id}/staff/{sid}")
    resource, params, _ = m.match("GET", "/pegawai/search")
    assert resource.template == "/pegawai/search" and params is None
    resource, params, _ = m.match("GET", "/pegawai/1987")
    assert resource.template == "/pegawai/{nip}" and params == {"nip": "1987"}
    assert m.match("GET", "/unit/3/staff/9")[1] == {"id": "3", "sid": "9"}
    assert m.match("GET", "/pegawai/1987/")[0] is not None  # one trailing slash is tolerated


def test_method_not_allowed_lists_allowed_and_head_follows_get():
    m = matcher("GET /pegawai/{nip}", "PUT /pegawai/{nip}")
    resource, _, allowed = m.match("DELETE", "/pegawai/1")
    assert resource is None and allowed == {"GET", "HEAD", "PUT"}
    assert m.match("HEAD", "/pegawai/1")[0] is not None
    resource, _, allowed = m.match("GET", "/nothing")
    assert resource is None and allowed == set()


def test_wildcard_and_any():
    m = matcher("ANY /*", "POST /upload")
    assert m.match("DELETE", "/a/b/c")[0].template == "/*"
    assert m.match("GET", "/")[0].template == "/*"
    assert m.match("POST", "/upload")[0].template == "/upload"
    m2 = matcher("GET /files/*")
    assert m2.match("GET", "/files/a/b")[0] is not None
    assert m2.match("POST", "/files/a")[2] == {"GET", "HEAD"}


@pytest.mark.parametrize("spec", ["GET /a/{x}/{y}", "GET,POST /a"])
def test_shorthand(spec):
    assert ResourceConfig.model_validate(spec).methods[0] == "GET"
