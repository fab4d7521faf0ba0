"""API definition interchange: OpenAPI 3.0/3.1, Swagger 2.0 and WSDL 1.1 in, OpenAPI 3.1 and WSDL out.

    imported = parse_definition(text, "openapi")     # or "wsdl", or None to sniff; Invalid lists problems
    document = export_openapi(api, prefix, fmt, source)  # prefix: gateway URL + context + version
    xml = export_wsdl(prefix, source)

Pure functions over text and dicts, no I/O: nothing here ever fetches a URL. A reference outside the
document (`$ref` not starting with `#`, `wsdl:import`/`xsd:import` with a location) is refused with
the place it was found, so an import can never be turned into a request to an internal address.
Parsing is CPU work: callers on the event loop run these functions in a thread.
"""

from __future__ import annotations

from gateway.catalog.interchange.model import Imported
from gateway.catalog.interchange.openapi_export import export_openapi
from gateway.catalog.interchange.parse import parse_definition
from gateway.catalog.interchange.wsdl import export_wsdl

__all__ = ["Imported", "export_openapi", "export_wsdl", "parse_definition"]
