"""Imported definitions and API documents in the store, on SQLite and PostgreSQL: one transaction per
change with its audit row, bytes stored exactly, and a failed import leaves nothing behind."""

from __future__ import annotations

import base64

import pytest

from gateway.catalog.audit import Actor
from gateway.catalog.document_models import ApiImport, DocumentCreate
from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.interchange import parse_definition
from gateway.catalog.models import TenantCreate
from gateway.catalog.store import CatalogStore
from tests.gateway.catalog.interchange.fixtures import text

SYSTEM = Actor.system("test")


async def _tenant(store: CatalogStore) -> str:
    return (await store.tenants.create(SYSTEM, TenantCreate(slug="kominfo", name="Kominfo", kind="national"))).id


async def test_import_stores_the_source_with_the_api(store: CatalogStore) -> None:
    tenant_id = await _tenant(store)
    source = text("number-conversion.wsdl")
    request = ApiImport(definition=source)
    api = await store.apis.get(
        (await store.definitions.import_api(SYSTEM, request, parse_definition(source), tenant_id=tenant_id)).id
    )
    assert (api.context, api.version, api.resources) == (
        "/kominfo/numberconversion",
        "v1",
        ["POST /webservicesserver/NumberConversion.wso"],
    )
    stored = await store.definitions.source(api.id)
    assert stored is not None and stored[1] == source
    assert (stored[0].format, stored[0].spec_version, stored[0].size) == ("wsdl", "1.1", len(source.encode()))
    assert len(stored[0].operations) == 6 and stored[0] == await store.definitions.get(api.id)
    trail = await store.audit.list(object_id=api.id)
    assert [(e.action, e.object_type) for e in trail] == [
        ("api_definition.import", "api_definition"),
        ("api.create", "api"),
    ]
    assert trail[0].after is not None and trail[0].after["operation_count"] == 6 and "source" not in trail[0].after
    # the same context and version again: nothing of the second import remains
    with pytest.raises(Conflict):
        await store.definitions.import_api(SYSTEM, request, parse_definition(source), tenant_id=tenant_id)
    assert len(await store.apis.list(None)) == 1
    async with store.db.read() as conn:
        assert await conn.fetchval("SELECT count(*) FROM api_definitions") == 1
    # no backend in the definition and none sent
    no_server = text("layanan-3.1.json").replace('"http://10.20.30.40:8080/perizinan"', '"/x"')
    with pytest.raises(Invalid, match="send `backend`"):
        await store.definitions.import_api(
            SYSTEM, ApiImport(definition=no_server), parse_definition(no_server), tenant_id=tenant_id
        )
    with pytest.raises(NotFound):
        await store.definitions.get("missing")


async def test_documents(store: CatalogStore) -> None:
    tenant_id = await _tenant(store)
    source = text("pegawai-3.0.yaml")
    api = await store.definitions.import_api(
        SYSTEM, ApiImport(definition=source), parse_definition(source), tenant_id=tenant_id
    )
    blob = bytes(range(256)) * 40  # every byte value, NUL included
    new = DocumentCreate(
        title="Panduan Integrasi",
        kind="file",
        content_type="application/pdf",
        content_base64=base64.b64encode(blob).decode(),
    )
    document = await store.documents.create(SYSTEM, api, new)
    assert (document.filename, document.size, document.url) == ("panduan-integrasi", len(blob), None)
    link = await store.documents.create(
        SYSTEM, api, DocumentCreate(title="Portal", kind="link", url="https://portal.example.go.id/pegawai")
    )
    assert [d.id for d in await store.documents.list(api.id)] == [document.id, link.id]
    assert await store.documents.content(api.id, document.id) == (document, blob)
    with pytest.raises(NotFound):
        await store.documents.content(api.id, link.id)  # a link has no content
    with pytest.raises(NotFound):
        await store.documents.get("another-api", document.id)
    await store.documents.delete(SYSTEM, api, document.id)
    assert [d.id for d in await store.documents.list(api.id)] == [link.id]
    trail = await store.audit.list(object_type="api_document")
    assert [(e.action, e.object_id) for e in trail] == [
        ("api_document.delete", document.id),
        ("api_document.create", link.id),
        ("api_document.create", document.id),
    ]
    assert trail[0].before is not None and trail[0].before["sha256"] == document.sha256
    # deleting the API (CREATED) takes its documents and definition with it
    await store.apis.delete(SYSTEM, api.id)
    async with store.db.read() as conn:
        assert await conn.fetchval("SELECT count(*) FROM api_documents") == 0
        assert await conn.fetchval("SELECT count(*) FROM api_definitions") == 0
