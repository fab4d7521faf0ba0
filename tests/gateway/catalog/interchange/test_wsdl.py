"""WSDL 1.1: a real-world-shaped service (SOAP 1.1 + 1.2 + HTTP GET ports) imports as SOAP pass-through
with every SOAPAction recorded; XXE, remote imports and WSDL 2.0 are refused; export points at the gateway."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.catalog.errors import Invalid
from gateway.catalog.interchange import export_wsdl, parse_definition
from gateway.catalog.interchange.wsdl import WSDL
from tests.gateway.catalog.interchange.fixtures import text

NUMBERS = text("number-conversion.wsdl")
ACTION = "http://www.example.go.id/numberconversion/"


def problem(source: str, fmt: str | None = "wsdl") -> tuple[str, str]:
    with pytest.raises(Invalid) as caught:
        parse_definition(source, fmt)
    first = caught.value.problems[0]
    return first["loc"][1], first["msg"]


def test_import() -> None:
    imported = parse_definition(NUMBERS)  # sniffed
    assert (imported.format, imported.spec_version, imported.name, imported.version) == (
        "wsdl",
        "1.1",
        "NumberConversion",
        "v1",
    )
    assert imported.slug == "numberconversion"
    assert imported.backend_url == "https://konversi.example.go.id"
    assert imported.resources == ("POST /webservicesserver/NumberConversion.wso",)
    assert imported.description.startswith("The Number Conversion Web Service")
    found = {(o["soap_version"], o["operation"], o["soap_action"]) for o in imported.operations}
    assert found == {
        ("1.1", "NumberToWords", ACTION + "NumberToWords"),
        ("1.1", "NumberToDollars", ACTION + "NumberToDollars"),
        ("1.1", "WordsToNumber", ""),
        ("1.2", "NumberToWords", ACTION + "NumberToWords"),
        ("1.2", "NumberToDollars", ACTION + "NumberToDollars"),
        ("1.2", "WordsToNumber", None),
    }
    assert {o["port"] for o in imported.operations} == {"NumberConversionSoap", "NumberConversionSoap12"}


def test_export_points_every_port_at_the_gateway() -> None:
    prefix = "https://gw.example.go.id/kominfo/numberconversion/v1"
    xml = export_wsdl(prefix, NUMBERS)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(xml)
    locations = [a.get("location") for port in root.iter(f"{{{WSDL}}}port") for a in port]
    assert locations == [prefix + "/webservicesserver/NumberConversion.wso"] * 3
    assert b"konversi.example.go.id" not in xml
    assert len(root.findall(f"{{{WSDL}}}binding")) == 3  # the rest is as stored
    again = parse_definition(xml.decode())
    assert again.backend_url == "https://gw.example.go.id"
    assert again.resources == ("POST /kominfo/numberconversion/v1/webservicesserver/NumberConversion.wso",)


XXE = """<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"><documentation>&secret;</documentation></definitions>
"""
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/">&lol2;</definitions>
"""


@pytest.mark.parametrize("source", [XXE, BILLION_LAUGHS, XXE.replace("DOCTYPE", "doctype")])
def test_doctype_and_entities_are_refused(source: str) -> None:
    where, message = problem(source)
    assert where == "line 2" and "DOCTYPE and ENTITY declarations are not accepted" in message


def test_remote_imports_are_refused_where_found() -> None:
    remote = NUMBERS.replace(
        "<types>",
        '<import namespace="urn:x" location="http://169.254.169.254/latest/meta-data/x.wsdl"/>\n  <types>',
    ).replace(
        '<xs:element name="NumberToWords">',
        '<xs:import namespace="urn:y" schemaLocation="./common.xsd"/><xs:element name="NumberToWords">',
    )
    with pytest.raises(Invalid) as caught:
        parse_definition(remote)
    places = [p["loc"][1] for p in caught.value.problems]
    assert places[0].startswith("/definitions[@name='NumberConversion']/import (line ")
    assert places[1].startswith("/definitions[@name='NumberConversion']/types/schema/import (line ")
    assert "169.254.169.254" in caught.value.problems[0]["msg"] and "never fetched" in caught.value.problems[0]["msg"]
    # a namespace-only xsd:import (no location) is fine
    parse_definition(
        NUMBERS.replace(
            '<xs:element name="NumberToWords">', '<xs:import namespace="urn:y"/><xs:element name="NumberToWords">', 1
        )
    )


def test_refusals() -> None:
    assert problem("<definitions")[1].startswith("not well-formed XML")
    assert problem('<description xmlns="http://www.w3.org/ns/wsdl"/>') == (
        "/description",
        "WSDL 2.0 is not supported; send a WSDL 1.1 document",
    )
    assert problem("<html/>")[1] == "not a WSDL 1.1 document (expected wsdl:definitions)"
    no_ports = f'<definitions xmlns="{WSDL}"><service name="S"/></definitions>'
    assert problem(no_ports)[1] == "no service port with a soap:address or soap12:address"
    relative = NUMBERS.replace(
        'location="https://konversi.example.go.id/webservicesserver', 'location="/webservicesserver', 1
    )
    where, message = problem(relative)
    line = next(n for n, text in enumerate(NUMBERS.splitlines(), 1) if "<soap:address" in text)
    assert where.endswith(f"port[@name='NumberConversionSoap']/address (line {line})") and "not an absolute" in message
    split = NUMBERS.replace(
        '<soap12:address location="https://konversi.example.go.id',
        '<soap12:address location="http://other.example.go.id',
    )
    assert "different hosts (https://konversi.example.go.id, http://other.example.go.id)" in problem(split)[1]
    unknown = NUMBERS.replace('binding="tns:NumberConversionSoapBinding12"', 'binding="tns:Missing"')
    assert problem(unknown)[1] == "binding 'Missing' is not defined in this document"
    deep = f'<definitions xmlns="{WSDL}">' + "<documentation>" * 70 + "</documentation>" * 70 + "</definitions>"
    assert "nested deeper than 64" in problem(deep)[1]
