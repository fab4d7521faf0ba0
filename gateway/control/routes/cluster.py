"""The cluster view: the gateway nodes connected to the catalog store now, and which of them runs a
config that differs from the others' (tiers, key managers, policies). Nodes name themselves on their
LISTEN connection (gateway/feed/identity.py), so the view needs the PostgreSQL catalog store."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.catalog.models import Role
from gateway.control.endpoints import Call, Endpoint
from gateway.feed.identity import PREFIX, SECTIONS, NodeIdentity, parse

SUPER = frozenset({Role.SUPER_ADMIN})


class ClusterNode(BaseModel):
    node: str = Field(description="The node's name (SPLP_NODE, else host-pid).")
    version: str = Field(description="SPLP version the node runs.")
    group: str = Field(description="gateway.group of the node.")
    address: str | None = Field(description="Address the node connects to the store from.")
    connected_since: datetime | None = Field(description="When its store connection opened.")
    fingerprints: dict[str, str] = Field(description="Short hash of each compared config section.")
    differs: list[str] = Field(description="Sections whose hash differs from most nodes' (empty: in line).")


class ClusterView(BaseModel):
    store: str = Field(description="postgres, or sqlite (one node, no view).")
    consistent: bool = Field(description="Every node runs the same tiers, key managers and policies.")
    nodes: list[ClusterNode]


async def cluster_nodes(call: Call) -> ClusterView:
    store = call.store
    if store.dialect != "postgres":
        return ClusterView(store=store.dialect, consistent=True, nodes=[])
    async with store.db.read() as conn:
        rows = await conn.fetch(
            "SELECT application_name, client_addr::text AS address, backend_start FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE $1 ORDER BY application_name",
            f"{PREFIX}%",
        )
    found: list[tuple[NodeIdentity, dict[str, Any]]] = []
    for row in rows:
        identity = parse(str(row["application_name"]))
        if identity is not None:
            found.append((identity, dict(row)))
    usual = {
        section: Counter(identity.fingerprints[section] for identity, _ in found).most_common(1)[0][0]
        for section in SECTIONS.values()
        if found
    }
    nodes = [
        ClusterNode(
            node=identity.node,
            version=identity.version,
            group=identity.group,
            address=row["address"],
            connected_since=row["backend_start"],
            fingerprints=identity.fingerprints,
            differs=[s for s in SECTIONS.values() if identity.fingerprints[s] != usual[s]],
        )
        for identity, row in found
    ]
    return ClusterView(store="postgres", consistent=not any(n.differs for n in nodes), nodes=nodes)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/cluster/nodes",
        cluster_nodes,
        "Gateway nodes connected now, and which runs a config differing from its peers",
        "system",
        roles=SUPER,
        response=ClusterView,
        description="A node whose tiers, key managers or policies differ from most nodes' lists the sections "
        "in `differs`. Needs the PostgreSQL catalog store (nodes name themselves on their LISTEN connection).",
    ),
)
