"""OpenTelemetry tracing end to end: a client's traceparent in, our span context out to the backend, and
the spans exported over OTLP/HTTP to a real receiver started here (protobuf decoded with opentelemetry-proto)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from gateway.types import Receive, Scope, Send
from tests.gateway.conftest import api, running_gateway
from tests.servers import EchoUpstream, serve

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class OtlpReceiver:
    """POST /v1/traces with an ExportTraceServiceRequest, as a collector takes it."""

    def __init__(self) -> None:
        self.spans: list[Any] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/x-protobuf")]}
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def test_spans_continue_the_client_trace_and_reach_the_collector(write_config):
    receiver = OtlpReceiver()
    upstream = EchoUpstream()
    async with serve(receiver) as collector, serve(upstream) as port:
        tracing = {"enabled": True, "endpoint": f"http://127.0.0.1:{collector}/v1/traces"}
        path = write_config(
            [api("svc", [f"http://127.0.0.1:{port}"], policies=[{"cors": {}}])], observability={"tracing": tracing}
        )
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as http:
            traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
            async with http.get(f"{base}/svc/v1/echo/7", headers={"traceparent": traceparent}) as response:
                assert response.status == 200
            assert app.pipeline is not None and app.pipeline.tracing is not None
            await asyncio.to_thread(app.pipeline.tracing.provider.force_flush)
    sent = dict(upstream.requests[-1]["headers"])["traceparent"]
    version, trace_id, parent_id, flags = sent.split("-")
    assert (version, trace_id, flags) == ("00", CLIENT_TRACE, "01") and parent_id != CLIENT_SPAN
    spans = {span.name: span for span in receiver.spans}
    assert set(spans) == {"GET /svc/v1", "backend GET", "policy cors"}
    call, backend, policy = spans["GET /svc/v1"], spans["backend GET"], spans["policy cors"]
    assert {span.trace_id.hex() for span in receiver.spans} == {CLIENT_TRACE}
    assert call.parent_span_id.hex() == CLIENT_SPAN  # the client's span is our parent
    assert backend.parent_span_id == call.span_id and policy.parent_span_id == call.span_id
    assert backend.span_id.hex() == parent_id  # what the backend got is our backend span
    assert call.start_time_unix_nano <= policy.start_time_unix_nano <= policy.end_time_unix_nano
    assert policy.end_time_unix_nano <= backend.end_time_unix_nano <= call.end_time_unix_nano
    attributes = {a.key: a.value for a in call.attributes}
    assert attributes["http.response.status_code"].int_value == 200
    assert attributes["splp.api"].string_value == "/svc/v1"


async def test_tracing_is_off_by_default_and_the_client_traceparent_passes_through(write_config):
    upstream = EchoUpstream()
    async with serve(upstream) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as http:
            traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
            async with http.get(f"{base}/svc/v1/x", headers={"traceparent": traceparent}) as response:
                assert response.status == 200
            assert app.pipeline is not None and app.pipeline.tracing is None
    assert dict(upstream.requests[-1]["headers"])["traceparent"] == traceparent
