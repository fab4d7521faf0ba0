"""Import and export through the control API, on SQLite and PostgreSQL: 201 with the API, 409 on a
duplicate, 422 naming the place in the definition, 413 past the body cap; exports at the gateway URL;
roles and tenant isolation as for the other API routes."""

from __future__ import annotations

import io
from typing import Any

import orjson
from lxml import etree

from gateway.catalog.interchange.limits import MAX_DEFINITION_BYTES
from gateway.catalog.interchange.wsdl import WSDL
from tests.gateway.catalog.interchange.fixtures import as_format, text
from tests.gateway.control.conftest import Control

GATEWAY = "http://127.0.0.1:8000"  # the test config's gateway listener


async def import_(control: Control, user: str, **body: Any) -> tuple[int, Any]:
    return await post_json(control, "/apis/import", user, orjson.dumps(body))


async def post_json(control: Control, path: str, user: str, raw: bytes) -> tuple[int, Any]:
    """A body of several MiB goes as a stream (aiohttp warns about large bytes bodies)."""
    headers = {"content-type": "application/json"}
    return await control.call("POST", path, as_user=user, data=io.BytesIO(raw), headers=headers)


async def test_import_openapi_and_export(control: Control) -> None:
    source = as_format("pegawai-3.0.yaml", "yaml")
    status, api = await import_(control, "a_pub", definition=source, tags=["asn"])
    assert status == 201, api
    assert (api["name"], api["context"], api["version"], api["status"]) == (
        "Data Pegawai",
        "/bappenas/data-pegawai",
        "1.2.0",
        "CREATED",
    )
    assert api["backend"]["endpoints"] == [{"url": "https://simpeg.example.go.id/api/v2", "weight": 1}]
    assert api["resources"] == [
        "GET,POST /pegawai",
        "GET,DELETE /pegawai/{nip}",
        "GET /unit-kerja/{unit_id}/pegawai/{nip}",
    ]
    assert api["tags"] == ["asn"]
    status, definition = await control.call("GET", f"/apis/{api['id']}/definition", as_user="a_dev")
    assert status == 200 and (definition["format"], definition["spec_version"]) == ("openapi", "3.0.3")
    status, exported = await control.call("GET", f"/apis/{api['id']}/openapi", as_user="a_dev")
    assert status == 200 and exported["openapi"] == "3.1.0"
    assert exported["servers"] == [{"url": f"{GATEWAY}/bappenas/data-pegawai/1.2.0"}]
    assert exported["paths"]["/pegawai/{nip}"]["get"]["operationId"] == "getPegawai"
    assert exported["paths"]["/pegawai/{nip}"]["get"]["parameters"][0]["name"] == "nip"
    status, exported = await control.call(
        "GET", f"/apis/{api['id']}/openapi?gateway_url=https://api.example.go.id/", as_user="a_dev"
    )
    assert exported["servers"] == [{"url": "https://api.example.go.id/bappenas/data-pegawai/1.2.0"}]
    status, problem = await control.call("GET", f"/apis/{api['id']}/openapi?gateway_url=ftp://x", as_user="a_dev")
    assert status == 422 and problem["errors"][0]["loc"] == ["query", "gateway_url"]
    status, problem = await control.call("GET", f"/apis/{api['id']}/wsdl", as_user="a_dev")
    assert status == 404 and problem["code"] == 801404
    # the same context and version again
    status, problem = await import_(control, "a_admin", definition=source)
    assert status == 409 and "context" in problem["detail"]
    status, trail = await control.call("GET", f"/audit?object_id={api['id']}", as_user="a_aud")
    assert [e["action"] for e in trail["items"]] == ["api_definition.import", "api.create"]


async def test_import_swagger_json_with_overrides(control: Control) -> None:
    status, api = await import_(
        control,
        "a_pub",
        format="openapi",
        definition=as_format("kependudukan-swagger-2.0.yaml", "json"),
        context="/dukcapil/penduduk",
        version="v9",
        backend={"endpoints": ["http://10.0.0.9:8080/api"]},
        visibility="public",
        classification="confidential",
    )
    assert status == 201, api
    assert (api["context"], api["version"], api["visibility"], api["classification"]) == (
        "/dukcapil/penduduk",
        "v9",
        "public",
        "confidential",
    )
    assert api["backend"]["endpoints"] == [{"url": "http://10.0.0.9:8080/api", "weight": 1}]
    assert api["tags"] == ["penduduk"]
    # an API registered by hand exports too, without definition
    status, manual = await control.call(
        "POST",
        "/apis",
        as_user="a_pub",
        json={"name": "M", "context": "/m", "version": "v1", "backend": {"endpoints": ["http://10.1.1.1"]}},
    )
    status, exported = await control.call("GET", f"/apis/{manual['id']}/openapi", as_user="a_pub")
    assert status == 200 and list(exported["paths"]) == ["/{rest}"]
    assert (await control.call("GET", f"/apis/{manual['id']}/definition", as_user="a_pub"))[0] == 404


async def test_import_wsdl_and_export(control: Control) -> None:
    status, api = await import_(control, "b_pub", definition=text("number-conversion.wsdl"), context="/kemenkes/angka")
    assert status == 201, api
    assert api["resources"] == ["POST /webservicesserver/NumberConversion.wso"] and api["tags"] == ["soap"]
    status, definition = await control.call("GET", f"/apis/{api['id']}/definition", as_user="b_pub")
    actions = {(o["soap_version"], o["operation"], o["soap_action"]) for o in definition["operations"]}
    assert ("1.2", "NumberToDollars", "http://www.example.go.id/numberconversion/NumberToDollars") in actions
    async with control.http.get(
        f"{control.base}/apis/{api['id']}/wsdl", headers={"authorization": f"Bearer {await control.token('b_pub')}"}
    ) as response:
        assert response.status == 200
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        xml = await response.read()
    locations = {a.get("location") for p in etree.fromstring(xml).iter(f"{{{WSDL}}}port") for a in p}
    assert locations == {f"{GATEWAY}/kemenkes/angka/v1/webservicesserver/NumberConversion.wso"}


async def test_problems_name_the_place(control: Control) -> None:
    document = orjson.loads(as_format("layanan-3.1.json", "json"))
    document["paths"]["/izin"]["get"]["responses"]["200"] = {"$ref": "http://169.254.169.254/latest/meta-data/"}
    document["components"]["schemas"]["Izin"] = {"$ref": "./other.yaml#/Izin"}
    status, problem = await import_(control, "a_pub", definition=orjson.dumps(document).decode())
    assert status == 422 and problem["code"] == 801422
    assert [e["loc"] for e in problem["errors"]] == [
        ["body", "definition", "/paths/~1izin/get/responses/200/$ref"],
        ["body", "definition", "/components/schemas/Izin/$ref"],
    ]
    xxe = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d>&e;</d>'
    status, problem = await import_(control, "a_pub", definition=xxe)
    assert status == 422 and "DOCTYPE" in problem["errors"][0]["msg"]
    status, problem = await import_(control, "a_pub", definition=text("number-conversion.wsdl"), format="swagger")
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "format"]
    status, problem = await import_(control, "a_pub", definition=as_format("pegawai-3.0.yaml", "yaml"), context="no")
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "context"]
    oversized = "openapi: 3.1.0\n#" + "x" * MAX_DEFINITION_BYTES
    status, problem = await import_(control, "a_pub", definition=oversized)
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "definition"]
    too_large = b'{"definition": "' + b"x" * (2 * MAX_DEFINITION_BYTES + 65 * 1024) + b'"}'
    status, problem = await post_json(control, "/apis/import", "a_pub", too_large)
    assert status == 413
    status, page = await control.call("GET", "/apis", as_user="root")
    assert page["items"] == []  # nothing of the refused imports was created


async def test_roles_and_isolation(control: Control) -> None:
    source = as_format("pegawai-3.0.yaml", "json")
    for user in ("a_dev", "a_aud"):
        assert (await import_(control, user, definition=source))[0] == 403
    status, problem = await import_(control, "b_pub", definition=source, tenant_id=control.tenants["a"])
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "tenant_id"]
    # a ministry's publisher imports for its unit; a super admin for anyone
    status, unit_api = await import_(control, "a_pub", definition=source, tenant_id=control.tenants["unit"])
    assert status == 201 and unit_api["context"] == "/bappenas-pusdatin/data-pegawai"
    status, b_api = await import_(control, "root", definition=source, tenant_id=control.tenants["b"])
    assert status == 201 and b_api["tenant"] == "kemenkes"
    _, private = await import_(control, "a_pub", definition=text("number-conversion.wsdl"))
    for tail in ("/openapi", "/wsdl", "/definition"):
        status, problem = await control.call("GET", f"/apis/{private['id']}{tail}", as_user="b_admin")
        assert status == 404 and problem["code"] == 801404, tail
        assert (await control.call("GET", f"/apis/{private['id']}{tail}", as_user="u_admin"))[0] == 200
