"""How a gateway node names itself to the catalog store, so the control API's cluster view can list the
nodes and point at one whose config differs from its peers (different tiers, key managers, policies).

On PostgreSQL the node's LISTEN connection carries the name as its `application_name`, visible in
pg_stat_activity while the node is connected: no table, no heartbeat, and a node that dies leaves the
view with its connection. PostgreSQL keeps 63 bytes of it, so each compared section is a short hash:

    splp|<node>|<version>|<group>|t<tiers>k<key managers>p<policies>
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass

import orjson

from gateway.config.model import GatewayConfig
from gateway.version import VERSION

PREFIX = "splp|"
SECTIONS = {"t": "tiers", "k": "key_managers", "p": "policies"}
_HASH = 5  # hex characters per section: enough to tell a handful of configs apart
NODE_ENV = "SPLP_NODE"  # the node's name (the cluster scripts and Kubernetes set it), else host-pid


def node_name() -> str:
    name = os.environ.get(NODE_ENV) or f"{socket.gethostname()}-{os.getpid()}"
    return name.replace("|", "-")[-18:]  # the tail keeps what tells nodes apart (pod suffix, pid)


def fingerprints(config: GatewayConfig) -> dict[str, str]:
    data = config.model_dump(mode="json")
    return {
        section: hashlib.sha256(orjson.dumps(data[section], option=orjson.OPT_SORT_KEYS)).hexdigest()[:_HASH]
        for section in SECTIONS.values()
    }


def application_name(config: GatewayConfig, node: str | None = None) -> str:
    prints = fingerprints(config)
    sections = "".join(f"{short}{prints[section]}" for short, section in SECTIONS.items())
    group = config.gateway.group.replace("|", "-")[:10]
    return f"{PREFIX}{node or node_name()}|{VERSION[:8]}|{group}|{sections}"[:63]


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    node: str
    version: str
    group: str
    fingerprints: dict[str, str]


def parse(name: str) -> NodeIdentity | None:
    """The identity in an application_name, or None for anything else (another client, a cut name)."""
    parts = name.split("|")
    if len(parts) != 5 or f"{parts[0]}|" != PREFIX:
        return None
    _, node, version, group, sections = parts
    step = 1 + _HASH
    chunks = [sections[i : i + step] for i in range(0, len(sections), step)]
    prints = {SECTIONS[c[0]]: c[1:] for c in chunks if len(c) == step and c[0] in SECTIONS}
    if len(prints) != len(SECTIONS):
        return None
    return NodeIdentity(node, version, group, prints)
