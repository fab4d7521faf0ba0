"""API documents: files (bytes in the catalog database, at most MAX_DOCUMENT_BYTES) and https links,
attached to an API. Each change writes its audit row (metadata, never the bytes) in the same transaction."""

from __future__ import annotations

import builtins
import hashlib

from gateway.catalog import audit
from gateway.catalog.api_models import Api
from gateway.catalog.audit import Actor
from gateway.catalog.db import Database
from gateway.catalog.document_models import MAX_DOCUMENTS, Document, DocumentCreate
from gateway.catalog.errors import Conflict, NotFound
from gateway.catalog.interchange.names import slug
from gateway.catalog.util import new_id, now

_COLUMNS = "id, api_id, title, kind, filename, content_type, size, sha256, url, created_by, created_at"


class DocumentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, api_id: str) -> builtins.list[Document]:
        async with self._db.read() as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM api_documents WHERE api_id = $1 ORDER BY created_at, id", api_id
            )
        return [Document.model_validate(row) for row in rows]

    async def get(self, api_id: str, document_id: str) -> Document:
        async with self._db.read() as conn:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM api_documents WHERE id = $1 AND api_id = $2", document_id, api_id
            )
        if row is None:
            raise NotFound(f"no document {document_id}")
        return Document.model_validate(row)

    async def content(self, api_id: str, document_id: str) -> tuple[Document, bytes]:
        """A file document and its bytes; NotFound for links too (they have no content)."""
        async with self._db.read() as conn:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS}, content FROM api_documents WHERE id = $1 AND api_id = $2 AND kind = 'file'",
                document_id,
                api_id,
            )
        if row is None:
            raise NotFound(f"no file document {document_id}")
        content = row.pop("content")
        return Document.model_validate(row), bytes(content)

    async def create(self, actor: Actor, api: Api, new: DocumentCreate) -> Document:
        content = new.content() if new.kind == "file" else None
        document = Document(
            id=new_id(),
            api_id=api.id,
            title=new.title,
            kind=new.kind,
            filename=(new.filename or slug(new.title, "document")) if content is not None else None,
            content_type=new.content_type,
            size=len(content) if content is not None else None,
            sha256=hashlib.sha256(content).hexdigest() if content is not None else None,
            url=new.url,
            created_by=actor.id,
            created_at=now(),
        )
        async with self._db.transaction() as conn:
            count = await conn.fetchval("SELECT count(*) FROM api_documents WHERE api_id = $1", api.id)
            if count >= MAX_DOCUMENTS:
                raise Conflict(f"an API holds at most {MAX_DOCUMENTS} documents; delete one first")
            await conn.execute(
                f"INSERT INTO api_documents ({_COLUMNS}, content)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                *document.model_dump().values(),
                content,
            )
            await audit.record(
                conn,
                actor,
                "api_document.create",
                "api_document",
                document.id,
                tenant_id=api.tenant_id,
                before=None,
                after=document,
            )
        return document

    async def delete(self, actor: Actor, api: Api, document_id: str) -> None:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM api_documents WHERE id = $1 AND api_id = $2", document_id, api.id
            )
            if row is None:
                raise NotFound(f"no document {document_id}")
            await conn.execute("DELETE FROM api_documents WHERE id = $1", document_id)
            await audit.record(
                conn,
                actor,
                "api_document.delete",
                "api_document",
                document_id,
                tenant_id=api.tenant_id,
                before=Document.model_validate(row),
                after=None,
            )
