"""One entry for every format: sniff when the caller does not say, then hand to the importer."""

from __future__ import annotations

from gateway.catalog.interchange import openapi_import, wsdl
from gateway.catalog.interchange.model import Imported, refuse
from gateway.catalog.interchange.tree import check_size, load_tree

FORMATS = ("openapi", "wsdl")  # openapi covers Swagger 2.0 too


def sniff(text: str) -> str:
    return "wsdl" if text.lstrip("\ufeff \t\r\n").startswith("<") else "openapi"


def parse_definition(text: str, fmt: str | None = None) -> Imported:
    """An OpenAPI 3.0/3.1, Swagger 2.0 (JSON or YAML) or WSDL 1.1 text as an `Imported`; Invalid
    lists every problem with its place (a JSON pointer, or an XML element and line)."""
    check_size(text)
    fmt = fmt or sniff(text)
    if fmt == "wsdl":
        return wsdl.import_wsdl(text)
    if fmt != "openapi":
        raise refuse("/", f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return openapi_import.import_openapi(load_tree(text), text)
