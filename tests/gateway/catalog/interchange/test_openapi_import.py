"""OpenAPI 3.0 / 3.1 and Swagger 2.0, JSON and YAML -> what the catalog registers; refusals name the place."""

from __future__ import annotations

import orjson
import pytest
import yaml

from gateway.catalog.errors import Invalid
from gateway.catalog.interchange import parse_definition
from gateway.catalog.interchange.limits import MAX_DEFINITION_BYTES
from gateway.catalog.interchange.openapi_import import convert_path
from tests.gateway.catalog.interchange.fixtures import OPENAPI_CASES, as_format, document

EXPECTED = {
    "pegawai-3.0.yaml": {
        "format": ("openapi", "3.0.3"),
        "name": "Data Pegawai",
        "version": "1.2.0",
        "backend": "https://simpeg.example.go.id/api/v2",  # server variables take their defaults
        "resources": ("GET,POST /pegawai", "GET,DELETE /pegawai/{nip}", "GET /unit-kerja/{unit_id}/pegawai/{nip}"),
        "tags": ("pegawai", "unit kerja"),
    },
    "layanan-3.1.json": {
        "format": ("openapi", "3.1.0"),
        "name": "Layanan Perizinan",
        "version": "2024.1",
        "backend": "http://10.20.30.40:8080/perizinan",  # the relative server is skipped
        "resources": ("GET /izin", "GET,PATCH /izin/{id}", "PUT /izin/{id}/dokumen/{nama}"),
        "tags": ("izin",),
    },
    "kependudukan-swagger-2.0.yaml": {
        "format": ("swagger", "2.0"),
        "name": "Kependudukan",
        "version": "v3",
        "backend": "https://dukcapil.example.go.id:8443/api",  # https preferred among schemes
        "resources": ("GET,PUT /penduduk/{nik}", "POST /penduduk/{nik}/foto"),
        "tags": ("penduduk",),
    },
}


@pytest.mark.parametrize(("name", "syntax"), OPENAPI_CASES)
def test_imports(name: str, syntax: str) -> None:
    source = as_format(name, syntax)
    imported = parse_definition(source)
    expected = EXPECTED[name]
    assert (imported.format, imported.spec_version) == expected["format"]
    assert (imported.name, imported.version, imported.backend_url) == (
        expected["name"],
        expected["version"],
        expected["backend"],
    )
    assert imported.resources == expected["resources"]
    assert imported.tags == expected["tags"]
    assert imported.source == source
    assert parse_definition(source, "openapi") == imported


def test_operations_record_the_original_paths() -> None:
    imported = parse_definition(as_format("pegawai-3.0.yaml", "yaml"))
    found = {(o["method"], o["path"], o["source_path"], o["operation_id"]) for o in imported.operations}
    assert (
        "GET",
        "/unit-kerja/{unit_id}/pegawai/{nip}",
        "/unit-kerja/{unit-id}/pegawai/{nip}.json",
        "pegawaiOfUnit",
    ) in found
    assert len(imported.operations) == 5
    assert imported.description == "Data kepegawaian ASN (OpenAPI 3.0 fixture)."


@pytest.mark.parametrize(
    ("path", "converted"),
    [
        ("/", "/"),
        ("/a/{id}", "/a/{id}"),
        ("/a/{pet-id}/b/{pet_id}", "/a/{pet_id}/b/{pet_id_2}"),
        ("/files/{name}.{ext}", "/files/{name_ext}"),
        ("/users/{id}:activate", "/users/{id}"),
        ("/{1st}", "/{p_1st}"),
        ("/caf\u00e9 menu", "/caf%C3%A9%20menu"),
    ],
)
def test_path_templates(path: str, converted: str) -> None:
    assert convert_path(path) == converted


EXTERNAL = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "./other.yaml",
    "other.yaml#/components/schemas/X",
    "file:///etc/passwd",
    "//internal.example/x.json",
]


@pytest.mark.parametrize("ref", EXTERNAL)
@pytest.mark.parametrize("syntax", ["json", "yaml"])
def test_external_references_are_refused_where_found(ref: str, syntax: str) -> None:
    data = document("pegawai-3.0.yaml")
    data["paths"]["/pegawai"]["get"]["responses"][200]["content"]["application/json"]["schema"]["items"] = {"$ref": ref}
    data["components"]["schemas"]["Remote"] = {"$ref": ref}
    text = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode() if syntax == "json" else yaml.safe_dump(data)
    with pytest.raises(Invalid) as caught:
        parse_definition(text)
    where = {p["loc"][1] for p in caught.value.problems}
    assert where == {
        "/paths/~1pegawai/get/responses/200/content/application~1json/schema/items/$ref",
        "/components/schemas/Remote/$ref",
    }
    assert all("external reference" in p["msg"] and "refused" in p["msg"] for p in caught.value.problems)


def test_refusals() -> None:
    def problem(text: str) -> tuple[str, str]:
        with pytest.raises(Invalid) as caught:
            parse_definition(text)
        return caught.value.problems[0]["loc"][1], caught.value.problems[0]["msg"]

    assert problem('{"openapi": "2.5", "paths": {}}')[0] == "/openapi"
    assert problem('{"openapi": "3.1.0", "info": {"title": "X"}, "paths": {}}') == (
        "/paths",
        "no paths: an API without operations cannot be served",
    )
    assert problem('{"openapi": "3.1.0", "info": {}, "paths": {"/a": {"get": {}}}}')[0] == "/info/title"
    assert problem('{"openapi": "3.1.0", "info": {"title": "X"}, "paths": {"a": {"get": {}}}}')[0] == "/paths/a"
    assert "not JSON" in problem('{"openapi": ')[1]
    assert "neither JSON nor YAML" in problem("a: [b\n")[1]
    assert "expected an object" in problem("- a\n- b\n")[1]
    too_big = '{"openapi": "3.1.0", "x": "' + "a" * MAX_DEFINITION_BYTES + '"}'
    assert problem(too_big) == ("/", f"the definition is larger than {MAX_DEFINITION_BYTES} bytes")
    # multi-byte characters count as bytes
    assert "larger than" in problem("# " + "\u00e9" * (MAX_DEFINITION_BYTES // 2 + 1))[1]


def test_yaml_alias_bomb_is_refused() -> None:
    lines = ["openapi: 3.1.0", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(Invalid, match="more than 500000 values"):
        parse_definition("\n".join(lines))


def test_deep_nesting_is_refused() -> None:
    deep = '{"openapi": "3.1.0", "x": ' + '{"a": ' * 100 + "1" + "}" * 101
    with pytest.raises(Invalid, match="nested deeper than 64"):
        parse_definition(deep)


def test_too_many_operations() -> None:
    paths = {f"/r{i}": {"get": {}, "post": {}, "put": {}} for i in range(700)}
    text = orjson.dumps({"openapi": "3.0.0", "info": {"title": "Big"}, "paths": paths}).decode()
    with pytest.raises(Invalid, match="2100 operations; at most 2000"):
        parse_definition(text)
    paths = {f"/r{i}": {"get": {}} for i in range(1001)}
    text = orjson.dumps({"openapi": "3.0.0", "info": {"title": "Big"}, "paths": paths}).decode()
    with pytest.raises(Invalid, match="1001 paths; at most 1000"):
        parse_definition(text)
