"""Catalog API -> OpenAPI 3.1: servers at the gateway, paths from the resources, and for an imported
API the original operations (paths, methods, parameters) survive import -> export -> import."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.catalog.interchange import export_openapi, parse_definition
from gateway.catalog.interchange.openapi_import import METHODS
from tests.gateway.catalog.interchange.apis import api_of
from tests.gateway.catalog.interchange.fixtures import OPENAPI_CASES, as_format, document

GATEWAY = "https://gw.example.go.id"


def _operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in doc["paths"].items() for method in item if method in METHODS}


def _parameters(doc: dict[str, Any], path: str, method: str) -> set[tuple[str, str]]:
    item = doc["paths"][path]
    merged = {(p.get("name"), p.get("in")) for p in item.get("parameters", []) + item[method].get("parameters", [])}
    return {(p.get("name"), p.get("in")) for p in item[method].get("parameters", [])} | (
        merged if "parameters" in item else set()
    )


@pytest.mark.parametrize(("name", "syntax"), OPENAPI_CASES)
def test_round_trip_keeps_paths_methods_parameters(name: str, syntax: str) -> None:
    source = as_format(name, syntax)
    imported = parse_definition(source)
    api = api_of(imported)
    prefix = f"{GATEWAY}{api.context}/{api.version}"
    exported = export_openapi(api, prefix, imported.format, source)
    original = document(name)
    assert exported["openapi"] == "3.1.0"
    assert exported["servers"] == [{"url": prefix}]
    assert _operations(exported) == _operations(original)
    for path, method in _operations(original):
        parameters = {
            (p["name"], p["in"]) if "$ref" not in p else ("$ref", p["$ref"].rsplit("/", 1)[-1])
            for p in exported["paths"][path][method].get("parameters", [])
        }
        expected = {
            (p["name"], p["in"]) if "$ref" not in p else ("$ref", p["$ref"].rsplit("/", 1)[-1])
            for p in original["paths"][path].get("parameters", [])
            + original["paths"][path][method].get("parameters", [])
            if p.get("in") not in ("body", "formData")
        }
        assert parameters == expected, (path, method)
        assert exported["paths"][path][method].get("operationId") == original["paths"][path][method].get("operationId")
    # and the export imports again to the same API
    again = parse_definition(orjson.dumps(exported).decode())
    assert again.resources == imported.resources
    assert again.format == "openapi" and again.spec_version == "3.1.0"
    assert again.backend_url == prefix


def test_openapi_30_details_and_no_backend_servers() -> None:
    source = as_format("pegawai-3.0.yaml", "yaml")
    imported = parse_definition(source)
    exported = export_openapi(api_of(imported), GATEWAY + "/x/v1", imported.format, source)
    text = orjson.dumps(exported).decode()
    assert "internal-admin" not in text and "simpeg" not in text and "staging" not in text
    get = exported["paths"]["/pegawai/{nip}"]["get"]
    assert get["parameters"][0]["schema"] == {"type": "string", "pattern": "^[0-9]{18}$"}
    assert exported["components"]["schemas"]["Pegawai"]["properties"]["email"] == {"type": ["string", "null"]}
    assert exported["paths"]["/pegawai"]["get"]["parameters"][1] == {"$ref": "#/components/parameters/Page"}
    assert exported["info"]["contact"]["name"] == "Pusdatin"
    assert exported["tags"] == [{"name": "Pegawai"}, {"name": "Unit Kerja"}]


def test_swagger_parts_are_converted() -> None:
    source = as_format("kependudukan-swagger-2.0.yaml", "yaml")
    imported = parse_definition(source)
    exported = export_openapi(api_of(imported), GATEWAY + "/x/v3", imported.format, source)
    assert "#/definitions/" not in orjson.dumps(exported).decode()
    item = exported["paths"]["/penduduk/{nik}"]
    assert item["get"]["parameters"][0] == {
        "name": "nik",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{16}$"},
    }
    assert item["get"]["parameters"][1]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Penduduk"
    }
    assert item["get"]["responses"]["404"] == {"$ref": "#/components/responses/NotFound"}
    assert item["put"]["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Penduduk"}}},
    }
    upload = exported["paths"]["/penduduk/{nik}/foto"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["properties"]["foto"] == {"type": "string", "format": "binary"}
    assert upload["schema"]["required"] == ["foto"]
    components = exported["components"]
    assert components["schemas"]["Penduduk"]["properties"]["umur"] == {"type": "integer", "exclusiveMinimum": 0}
    assert components["securitySchemes"]["basic"] == {"type": "http", "scheme": "basic"}
    assert components["securitySchemes"]["oauth"]["flows"]["clientCredentials"]["tokenUrl"].endswith("/token")
    assert components["responses"]["NotFound"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_export_follows_the_resources_as_they_are_now() -> None:
    source = as_format("layanan-3.1.json", "json")
    imported = parse_definition(source)
    api = api_of(imported, resources=["GET /izin", "GET /izin/{id}", "POST /laporan/{tahun}/*", "ANY /status"])
    exported = export_openapi(api, GATEWAY + "/p/v1", imported.format, source)
    assert set(exported["paths"]) == {"/izin", "/izin/{id}", "/laporan/{tahun}/{rest}", "/status"}
    assert set(exported["paths"]["/izin/{id}"]) == {"get"}  # patch is no longer served
    assert exported["paths"]["/izin"]["get"]["operationId"] == "listIzin"
    generated = exported["paths"]["/laporan/{tahun}/{rest}"]["post"]
    assert [p["name"] for p in generated["parameters"]] == ["tahun", "rest"]
    assert set(exported["paths"]["/status"]) == {"get", "put", "post", "delete", "patch", "head", "options"}


def test_export_of_an_api_registered_by_hand() -> None:
    imported = parse_definition(as_format("layanan-3.1.json", "json"))
    api = api_of(imported, resources=["GET,POST /pegawai/{nip}"], tags=["asn"])
    exported = export_openapi(api, GATEWAY + "/a/v1")
    assert exported["paths"]["/pegawai/{nip}"]["get"]["parameters"] == [
        {"name": "nip", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    assert exported["tags"] == [{"name": "asn"}] and "components" not in exported
    assert exported["x-splp"] == {"api_id": "api-1", "tenant": "bappenas", "status": "CREATED"}
