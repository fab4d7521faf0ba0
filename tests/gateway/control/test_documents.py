"""API documents through the control API, on SQLite and PostgreSQL: files and links, download headers,
limits, roles and tenant isolation (another institution's tenant-only API answers 404)."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from gateway.catalog.document_models import MAX_DOCUMENT_BYTES
from tests.gateway.control.conftest import Control
from tests.gateway.control.test_apis import create
from tests.gateway.control.test_interchange import post_json

PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"


def file_body(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Panduan Integrasi",
        "kind": "file",
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(PDF).decode(),
        **extra,
    }


async def test_files_and_links(control: Control) -> None:
    api = await create(control, "a_pub")
    docs = f"/apis/{api['id']}/documents"
    status, document = await control.call("POST", docs, as_user="a_pub", json=file_body(filename="panduan.pdf"))
    assert status == 201, document
    assert (document["kind"], document["size"], document["filename"], document["url"]) == (
        "file",
        len(PDF),
        "panduan.pdf",
        None,
    )
    link_body = {"title": "Portal", "kind": "link", "url": "https://portal.example.go.id/pegawai"}
    status, link = await control.call("POST", docs, as_user="a_admin", json=link_body)
    assert status == 201 and link["url"] == link_body["url"] and link["size"] is None
    status, page = await control.call("GET", docs, as_user="a_dev")
    assert status == 200 and [d["id"] for d in page["items"]] == [document["id"], link["id"]]
    assert (await control.call("GET", f"{docs}/{link['id']}", as_user="a_aud"))[1] == link
    async with control.http.get(
        f"{control.base}{docs}/{document['id']}/content",
        headers={"authorization": f"Bearer {await control.token('a_dev')}"},
    ) as response:
        assert response.status == 200 and await response.read() == PDF
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == 'attachment; filename="panduan.pdf"'
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]
    assert (await control.call("GET", f"{docs}/{link['id']}/content", as_user="a_dev"))[0] == 404
    assert (await control.call("DELETE", f"{docs}/{document['id']}", as_user="a_pub"))[0] == 204
    assert (await control.call("GET", f"{docs}/{document['id']}", as_user="a_pub"))[0] == 404
    status, trail = await control.call("GET", "/audit?object_type=api_document", as_user="a_aud")
    assert [e["action"] for e in trail["items"]] == [
        "api_document.delete",
        "api_document.create",
        "api_document.create",
    ]
    assert trail["items"][0]["before"]["filename"] == "panduan.pdf"


async def test_validation_and_limits(control: Control) -> None:
    api = await create(control, "a_pub")
    docs = f"/apis/{api['id']}/documents"
    bad = [
        ({"title": "x", "kind": "link", "url": "http://plain.example.go.id"}, "url"),
        ({"title": "x", "kind": "link", "url": "https://user:pw@example.go.id/"}, "url"),
        (file_body(content_type="text/html; charset=utf-8"), "content_type"),
        (file_body(filename="../etc/passwd"), "filename"),
        (file_body(content_base64="not base64!"), "content_base64"),
        ({"title": "x", "kind": "file", "url": "https://example.go.id"}, None),
        ({"title": "x", "kind": "link", "url": "https://example.go.id", "content_type": "text/plain"}, None),
    ]
    for body, field in bad:
        status, problem = await control.call("POST", docs, as_user="a_pub", json=body)
        assert status == 422, body
        if field is not None:
            assert problem["errors"][0]["loc"] == ["body", field], body
    too_big = base64.b64encode(b"\0" * (MAX_DOCUMENT_BYTES + 1)).decode()
    status, problem = await post_json(control, docs, "a_pub", orjson.dumps(file_body(content_base64=too_big)))
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "content_base64"]
    just_fits = base64.b64encode(b"\1" * MAX_DOCUMENT_BYTES).decode()
    status, document = await post_json(control, docs, "a_pub", orjson.dumps(file_body(content_base64=just_fits)))
    assert status == 201 and document["size"] == MAX_DOCUMENT_BYTES
    async with control.http.get(
        f"{control.base}{docs}/{document['id']}/content",
        headers={"authorization": f"Bearer {await control.token('a_pub')}"},
    ) as response:
        assert len(await response.read()) == MAX_DOCUMENT_BYTES
    status, page = await control.call("GET", docs, as_user="a_pub")
    assert len(page["items"]) == 1  # nothing of the refused uploads was stored


async def test_roles_and_isolation(control: Control) -> None:
    private = await create(control, "a_pub", context="/a/private")
    public = await create(control, "a_pub", context="/a/public", visibility="public")
    for api in (private, public):
        docs = f"/apis/{api['id']}/documents"
        status, document = await control.call("POST", docs, as_user="a_pub", json=file_body())
        assert status == 201
        api["doc"] = document["id"]
    for user in ("a_dev", "a_aud"):
        assert (await control.call("POST", f"/apis/{private['id']}/documents", as_user=user, json=file_body()))[
            0
        ] == 403
        assert (await control.call("DELETE", f"/apis/{private['id']}/documents/{private['doc']}", as_user=user))[
            0
        ] == 403
    docs = f"/apis/{private['id']}/documents"
    for method, tail, kwargs in (
        ("GET", "", {}),
        ("POST", "", {"json": file_body()}),
        ("GET", f"/{private['doc']}", {}),
        ("GET", f"/{private['doc']}/content", {}),
        ("DELETE", f"/{private['doc']}", {}),
    ):
        status, problem = await control.call(method, docs + tail, as_user="b_admin", **kwargs)
        assert status == 404 and problem["code"] == 801404, (method, tail)
    # the unit sees its ministry's tenant-only API, and reads its documents
    assert (await control.call("GET", f"{docs}/{private['doc']}/content", as_user="u_admin"))[1] == PDF
    # another institution reads a public API's documents but cannot change them
    pub_docs = f"/apis/{public['id']}/documents"
    assert (await control.call("GET", f"{pub_docs}/{public['doc']}/content", as_user="b_pub"))[1] == PDF
    assert (await control.call("POST", pub_docs, as_user="b_pub", json=file_body()))[0] == 403
    assert (await control.call("DELETE", f"{pub_docs}/{public['doc']}", as_user="b_admin"))[0] == 403
    # a document id under another API is not found
    assert (await control.call("GET", f"{pub_docs}/{private['doc']}", as_user="a_pub"))[0] == 404
    assert (await control.call("GET", f"{docs}/{public['doc']}", as_user="a_pub"))[0] == 404
    assert (await control.call("GET", docs, as_user="a_pub"))[1]["items"][0]["id"] == private["doc"]


async def test_a_new_version_keeps_the_documents_and_the_imported_definition(control: Control) -> None:
    from tests.gateway.catalog.interchange.fixtures import as_format
    from tests.gateway.control.test_interchange import import_

    status, api = await import_(control, "a_pub", definition=as_format("pegawai-3.0.yaml", "yaml"))
    assert status == 201, api
    docs = f"/apis/{api['id']}/documents"
    await control.call("POST", docs, as_user="a_pub", json=file_body(filename="panduan.pdf"))
    status, v2 = await control.call("POST", f"/apis/{api['id']}/versions", as_user="a_pub", json={"version": "2.0.0"})
    assert status == 201, v2
    status, page = await control.call("GET", f"/apis/{v2['id']}/documents", as_user="a_dev")
    (copy,) = page["items"]
    assert (copy["title"], copy["size"], copy["api_id"]) == ("Panduan Integrasi", len(PDF), v2["id"])
    async with control.http.get(
        f"{control.base}/apis/{v2['id']}/documents/{copy['id']}/content",
        headers={"authorization": f"Bearer {await control.token('a_dev')}"},
    ) as response:
        assert await response.read() == PDF
    status, exported = await control.call("GET", f"/apis/{v2['id']}/openapi", as_user="a_dev")
    assert exported["paths"]["/pegawai/{nip}"]["get"]["operationId"] == "getPegawai"  # the source came along
    assert exported["servers"][0]["url"].endswith("/bappenas/data-pegawai/2.0.0")
    # the original keeps its own
    assert len((await control.call("GET", docs, as_user="a_dev"))[1]["items"]) == 1
