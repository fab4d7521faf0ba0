"""The shapes of API definition imports and API documents: what a publisher sends, what the catalog answers."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from gateway.catalog.api_models import Classification, Tags, Visibility
from gateway.catalog.interchange.limits import MAX_DEFINITION_BYTES
from gateway.catalog.models import ShortText
from gateway.config.model import BackendConfig

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024  # one file document, stored in the catalog database
MAX_DOCUMENTS = 100  # per API
_BASE64_MAX = (MAX_DOCUMENT_BYTES + 2) // 3 * 4
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ApiImport(_In):
    format: Literal["openapi", "wsdl"] | None = Field(
        None, description="openapi (OpenAPI 3.0/3.1 or Swagger 2.0, JSON or YAML) or wsdl (1.1); default: sniffed."
    )
    definition: Annotated[str, StringConstraints(strip_whitespace=False)] = Field(
        min_length=1, max_length=MAX_DEFINITION_BYTES, description="The definition's text (at most 5 MiB), as sent."
    )
    context: str | None = Field(None, max_length=200, description="URL prefix; default /<tenant>/<title as slug>.")
    version: str | None = Field(None, max_length=50, description="Version segment; default: info.version (v1).")
    tenant_id: str | None = Field(None, description="Owner tenant; default: the caller's.")
    backend: BackendConfig | None = Field(
        None, description="Where calls go; default: the definition's first absolute server (soap:address)."
    )
    visibility: Visibility = Field(Visibility.TENANT, description="public, tenant or restricted.")
    classification: Classification = Field(Classification.INTERNAL, description="Data classification.")
    tags: Tags | None = Field(None, description="Catalog tags; default: the definition's tags.")


class ApiDefinition(BaseModel):
    """The source an API was imported from (its text is served by the export routes)."""

    api_id: str
    format: Literal["openapi", "swagger", "wsdl"]
    spec_version: str
    size: int = Field(description="Bytes of the source text (UTF-8).")
    sha256: str
    operations: list[dict[str, Any]] = Field(
        description="What the import found: method and path, and for WSDL service, port, binding, SOAPAction."
    )
    created_by: str | None
    created_at: str


class DocumentCreate(_In):
    title: ShortText = Field(min_length=1, description="What the document is, e.g. 'Panduan integrasi'.")
    kind: Literal["file", "link"] = Field(description="file (bytes sent here) or link (an https URL).")
    filename: str | None = Field(None, description="file: download name, letters, digits and ._- (default: title).")
    content_type: str | None = Field(None, max_length=255, description="file: media type, e.g. application/pdf.")
    content_base64: str | None = Field(
        None, max_length=_BASE64_MAX, description="file: the bytes, base64 (at most 10 MiB decoded)."
    )
    url: str | None = Field(None, max_length=2000, description="link: an https:// URL.")

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str | None) -> str | None:
        if value is not None and not _FILENAME.match(value):
            raise ValueError("expected 1-100 letters, digits or ._- starting with a letter or digit")
        return value

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower()
        if not _CONTENT_TYPE.match(value):
            raise ValueError("expected a media type such as application/pdf (no parameters)")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or any(c.isspace() or ord(c) < 32 for c in value):
            raise ValueError("expected an https:// URL")
        if parts.username or parts.password:
            raise ValueError("a link may not carry a user name or password")
        return value

    @field_validator("content_base64")
    @classmethod
    def _content(cls, value: str | None) -> str | None:
        if value is not None:
            _decode(value)  # raises on bad base64 or size
        return value

    @model_validator(mode="after")
    def _kind(self) -> DocumentCreate:
        if self.kind == "file":
            if self.content_base64 is None or self.content_type is None:
                raise ValueError("a file needs content_base64 and content_type")
            if self.url is not None:
                raise ValueError("a file has no url")
        elif self.content_base64 is not None or self.content_type is not None or self.filename is not None:
            raise ValueError("a link has only a title and a url")
        elif self.url is None:
            raise ValueError("a link needs url")
        return self

    def content(self) -> bytes:
        return _decode(self.content_base64 or "")


def _decode(value: str) -> bytes:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"the file is larger than {MAX_DOCUMENT_BYTES} bytes")
    return data


class Document(BaseModel):
    id: str
    api_id: str
    title: str
    kind: Literal["file", "link"]
    filename: str | None
    content_type: str | None
    size: int | None
    sha256: str | None
    url: str | None
    created_by: str | None
    created_at: str
