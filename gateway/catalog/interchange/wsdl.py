"""WSDL 1.1 in and out, for SOAP pass-through APIs.

Import: each `wsdl:service/wsdl:port` with a `soap:address` (SOAP 1.1) or `soap12:address` (SOAP 1.2)
is a way in; its binding's operations are recorded with their SOAPAction. The gateway forwards SOAP
as it comes, so the API's resources are `POST <address path>` (one per distinct path) and the backend
is the addresses' origin. Ports on different hosts cannot share one backend and are refused.

Export: the stored WSDL with every port address pointing at the gateway instead of the backend.

The XML parser is hardened: no network, no DTD, no entity expansion, no huge trees; a DOCTYPE or
ENTITY declaration is refused outright (XXE), and so is `wsdl:import` / `xsd:import` / `xsd:include`
with a location (the document must be self-contained: nothing is ever fetched).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from lxml import etree

from gateway.catalog.interchange import names
from gateway.catalog.interchange.limits import MAX_DEPTH, MAX_OPERATIONS
from gateway.catalog.interchange.model import Imported, Problems, refuse
from gateway.catalog.interchange.tree import check_size

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
HTTP = "http://schemas.xmlsoap.org/wsdl/http/"
XSD = "http://www.w3.org/2001/XMLSchema"
_ADDRESSES = {f"{{{SOAP11}}}address": "1.1", f"{{{SOAP12}}}address": "1.2"}
_EXTERNAL = (f"{{{WSDL}}}import", f"{{{XSD}}}import", f"{{{XSD}}}include", f"{{{XSD}}}redefine")
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PATH_SAFE = "/._~!$&'()*+,;=:@-%"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
    )


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


def _place(element: etree._Element) -> str:
    steps = []
    for node in [*reversed(list(element.iterancestors())), element]:
        name = node.get("name")
        steps.append(_local(node.tag) + (f"[@name='{name}']" if name else ""))
    return "/" + "/".join(steps) + f" (line {element.sourceline})"


def parse_xml(text: str) -> etree._Element:
    """The root element of a self-contained XML text, parsed safely; Invalid on a DOCTYPE or bad XML."""
    check_size(text)
    declaration = _DECLARATION.search(text)
    if declaration:
        line = text.count("\n", 0, declaration.start()) + 1
        raise refuse(f"line {line}", "DOCTYPE and ENTITY declarations are not accepted (XML external entities)")
    try:
        root = etree.fromstring(text.lstrip("\ufeff \t\r\n").encode(), _parser())
    except etree.XMLSyntaxError as exc:
        raise refuse(f"line {exc.lineno}", f"not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise refuse("/", "DOCTYPE declarations are not accepted")
    depth = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > MAX_DEPTH:
            raise refuse(_place(element), f"nested deeper than {MAX_DEPTH} elements")
    return root


def _text(element: etree._Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def import_wsdl(text: str) -> Imported:
    root = parse_xml(text)
    problems = Problems()
    if root.tag != f"{{{WSDL}}}definitions":
        if _local(root.tag) == "description":
            raise refuse("/description", "WSDL 2.0 is not supported; send a WSDL 1.1 document")
        raise refuse(f"/{_local(root.tag)}", "not a WSDL 1.1 document (expected wsdl:definitions)")
    for element in root.iter(*_EXTERNAL):
        location = element.get("location") or element.get("schemaLocation")
        if location:
            problems.add(
                _place(element),
                f"refers to {location[:200]!r}; documents outside this one are never fetched, inline them",
            )
    bindings = {b.get("name"): b for b in root.findall(f"{{{WSDL}}}binding")}
    operations: list[dict[str, Any]] = []
    origins: dict[str, str] = {}  # origin -> first port using it
    paths: list[str] = []
    services = root.findall(f"{{{WSDL}}}service")
    for service in services:
        for port in service.findall(f"{{{WSDL}}}port"):
            address = next((child for child in port if child.tag in _ADDRESSES), None)
            if address is None:
                continue  # an HTTP or other non-SOAP port: not served as SOAP pass-through
            location = address.get("location") or ""
            url = names.backend_url(location)
            if url is None:
                problems.add(_place(address), f"location {location[:200]!r} is not an absolute http(s) URL")
                continue
            parts = urlsplit(url)
            origins.setdefault(f"{parts.scheme}://{parts.netloc}", _place(port))
            path = quote(parts.path or "/", safe=_PATH_SAFE)
            if path not in paths:
                paths.append(path)
            binding_name = (port.get("binding") or "").rpartition(":")[2]
            binding = bindings.get(binding_name)
            if binding is None:
                problems.add(_place(port), f"binding {binding_name!r} is not defined in this document")
                continue
            for operation in binding.findall(f"{{{WSDL}}}operation"):
                soap_operation = operation.find(f"{{{SOAP11}}}operation")
                if soap_operation is None:
                    soap_operation = operation.find(f"{{{SOAP12}}}operation")
                operations.append(
                    {
                        "method": "POST",
                        "path": path,
                        "service": service.get("name"),
                        "port": port.get("name"),
                        "binding": binding_name,
                        "soap_version": _ADDRESSES[address.tag],
                        "operation": operation.get("name"),
                        "soap_action": soap_operation.get("soapAction") if soap_operation is not None else None,
                    }
                )
    if len(origins) > 1:
        problems.add(
            "/definitions/service",
            f"ports point at different hosts ({', '.join(origins)}); one API has one backend: import each separately",
        )
    if not paths and not problems.items:
        problems.add("/definitions", "no service port with a soap:address or soap12:address")
    if len(operations) > MAX_OPERATIONS:
        problems.add("/definitions", f"{len(operations)} operations; at most {MAX_OPERATIONS}")
    problems.raise_any()
    service = services[0] if services else root
    name = service.get("name") or root.get("name") or "SOAP service"
    description = _text(service.find(f"{{{WSDL}}}documentation")) or _text(root.find(f"{{{WSDL}}}documentation"))
    return Imported(
        format="wsdl",
        spec_version="1.1",
        name=name[:200],
        version="v1",
        slug=names.slug(name),
        description=description[:4000],
        tags=("soap",),
        backend_url=next(iter(origins)),
        resources=tuple(f"POST {path}" for path in paths),
        operations=tuple(operations),
        source=text,
    )


def export_wsdl(prefix: str, source: str) -> bytes:
    """The stored WSDL with every port address at `prefix` (gateway URL + context + version) + its path."""
    root = parse_xml(source)
    base = prefix.rstrip("/")
    for port in root.iter(f"{{{WSDL}}}port"):
        for address in port:
            if address.tag in _ADDRESSES or address.tag == f"{{{HTTP}}}address":
                path = urlsplit(address.get("location") or "").path
                address.set("location", base + quote(path, safe=_PATH_SAFE))
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")  # type: ignore[no-any-return]
