"""API documents: files (JSON with base64 content, at most 10 MiB) and https links attached to an API.

Reading: whoever sees the API (visibility rules); others 404. Writing: publishers, tenant admins and
super admins whose scope holds the owner tenant (an API the caller sees but does not manage: 403).
A file is served as an attachment with its stored media type, `nosniff` and a sandboxing CSP, so a
browser never renders an uploaded document in the control API's origin.
"""

from __future__ import annotations

from starlette.responses import Response

from gateway.catalog.document_models import MAX_DOCUMENT_BYTES, MAX_DOCUMENTS, Document, DocumentCreate
from gateway.control.endpoints import Call, Endpoint, Page
from gateway.control.routes.apis import WRITERS, managed_api, visible_api

# base64 grows the file by a third; the rest is the title, name and JSON punctuation
DOCUMENT_MAX_BODY = (MAX_DOCUMENT_BYTES + 2) // 3 * 4 + 16 * 1024


async def list_documents(call: Call) -> Page:
    api = await visible_api(call)
    return Page(await call.store.documents.list(api.id), MAX_DOCUMENTS, 0)  # an API holds at most MAX_DOCUMENTS


async def create_document(call: Call) -> Document:
    api = await managed_api(call)
    return await call.store.documents.create(call.principal.actor, api, call.body)


async def get_document(call: Call) -> Document:
    api = await visible_api(call)
    return await call.store.documents.get(api.id, call.path("doc_id"))


async def delete_document(call: Call) -> None:
    api = await managed_api(call)
    await call.store.documents.delete(call.principal.actor, api, call.path("doc_id"))


async def document_content(call: Call) -> Response:
    api = await visible_api(call)
    document, content = await call.store.documents.content(api.id, call.path("doc_id"))
    return Response(
        content,
        media_type=document.content_type,
        headers={
            "content-disposition": f'attachment; filename="{document.filename}"',
            "x-content-type-options": "nosniff",
            "content-security-policy": "default-src 'none'; sandbox",
            "cache-control": "private, no-store",
        },
    )


_TAG = "documents"
_DOCS = "/api/v1/apis/{id}/documents"
_DOC = _DOCS + "/{doc_id}"
ENDPOINTS = (
    Endpoint(
        "GET",
        _DOCS,
        list_documents,
        "Documents of an API (metadata; files without their bytes)",
        _TAG,
        response=Document,
        many=True,
    ),
    Endpoint(
        "POST",
        _DOCS,
        create_document,
        "Attach a document: a file (base64, at most 10 MiB) or an https link",
        _TAG,
        roles=WRITERS,
        body=DocumentCreate,
        response=Document,
        status=201,
        max_body=DOCUMENT_MAX_BODY,
        description="At most 100 documents per API (409 past it).",
    ),
    Endpoint("GET", _DOC, get_document, "One document's metadata", _TAG, response=Document),
    Endpoint("DELETE", _DOC, delete_document, "Remove a document", _TAG, roles=WRITERS, status=204),
    Endpoint(
        "GET",
        _DOC + "/content",
        document_content,
        "Download a file document (attachment, its stored media type)",
        _TAG,
        produces="application/octet-stream",
        description="404 for links: they have no content.",
    ),
)
