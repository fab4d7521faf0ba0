"""Liveness (no token needed). The OpenAPI document is served by app.py, next to the list it describes."""

from __future__ import annotations

from pydantic import BaseModel

from gateway.control.endpoints import Call, Endpoint
from gateway.version import VERSION


class Health(BaseModel):
    status: str
    version: str


async def health(call: Call) -> Health:
    return Health(status="ok", version=VERSION)


ENDPOINTS = (
    Endpoint("GET", "/api/v1/health", health, "Liveness of the control API", "system", public=True, response=Health),
)
