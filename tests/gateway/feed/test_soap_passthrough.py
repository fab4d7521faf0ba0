"""SOAP pass-through: a WSDL imported through the control API becomes a served API whose operations
are POST resources; the gateway forwards the envelope byte for byte with its SOAPAction, and the
exported WSDL points consumers at the gateway."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from tests.gateway.catalog.interchange.fixtures import text
from tests.gateway.feed.stack import running_stack
from tests.gateway.feed.test_live_push import PUSH_DEADLINE, status_within

ENVELOPE = b"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body><NumberToWords xmlns="http://www.dataaccess.com/webservicesserver/"><ubiNum>42</ubiNum></NumberToWords></soap:Body>
</soap:Envelope>"""


async def test_imported_wsdl_is_served_as_soap_pass_through(
    store_uri: str, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_config([], storage={"catalog": store_uri, "serve_catalog": True})
    async with running_stack(store_uri, path, tmp_path, "soap") as stack:
        control, gw, http, upstream = stack.control, stack.gateway, stack.http, stack.upstream
        body = {
            "definition": text("number-conversion.wsdl"),
            "context": "/bappenas/konversi",
            "version": "v1",
            "backend": {"endpoints": [stack.backend]},
        }
        status, api = await control.call("POST", "/apis/import", as_user="a_pub", json=body)
        assert status == 201, api
        (resource,) = api["resources"]
        method, operation_path = resource.split(" ")
        assert method == "POST"
        status, _ = await control.call(
            "POST", f"/apis/{api['id']}/lifecycle", as_user="a_pub", json={"action": "publish"}
        )
        assert status == 200

        url = f"{gw}/bappenas/konversi/v1{operation_path}"
        await status_within(http, url, 405, PUSH_DEADLINE)  # served: GET is not an operation
        headers = {
            "content-type": "text/xml; charset=utf-8",
            "soapaction": '"http://www.dataaccess.com/webservicesserver/NumberToWords"',
        }
        async with http.post(url, data=ENVELOPE, headers=headers) as response:
            assert response.status == 200
        seen = upstream.requests[-1]
        assert (seen["method"], seen["path"]) == ("POST", operation_path)
        assert seen["sha256"] == hashlib.sha256(ENVELOPE).hexdigest()
        assert dict(seen["headers"])["soapaction"] == headers["soapaction"]

        status, wsdl = await control.call(
            "GET", f"/apis/{api['id']}/wsdl?gateway_url=https://api.example.go.id", as_user="a_pub"
        )
        assert status == 200
        addresses = etree.fromstring(wsdl).xpath("//*[local-name()='address']/@location")
        assert addresses and all(a.startswith("https://api.example.go.id/bappenas/konversi/v1") for a in addresses)
