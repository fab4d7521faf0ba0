"""The smoke test through the load balancer: publish -> subscribe -> token -> call -> throttle shared across
nodes. Uses only the control API and the gateway's own endpoints, as an operator and a consumer would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.cluster.topology import ADMIN, Cluster, ClusterError

SMOKE_TIER = "ClusterSmoke"
SMOKE_LIMIT = 10  # requests per minute of the smoke tier: exact across the nodes, through Redis


@dataclass(frozen=True)
class Consumer:
    app_id: str
    secret: str
    path: str  # the API's URL path on the gateway

    async def token(self, http: aiohttp.ClientSession, base: str) -> str:
        headers = {"authorization": aiohttp.encode_basic_auth(self.app_id, self.secret)}
        data = {"grant_type": "client_credentials"}
        async with http.post(f"{base}/oauth2/token", data=data, headers=headers) as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                raise ClusterError(f"token refused: {response.status} {body}")
            return str(body["access_token"])


async def token_on_every_node(consumer: Consumer, http: aiohttp.ClientSession, base: str, nodes: int) -> str:
    """A token once every node knows the new application (the feed pushes it in ~30 ms): 2 x `nodes`
    grants in a row through the balancer. Waiting on the token endpoint spends no API rate limit."""
    deadline = time.monotonic() + 10
    granted = 0
    token = ""
    while granted < 2 * nodes:
        try:
            token = await consumer.token(http, base)
            granted += 1
        except ClusterError:
            if time.monotonic() > deadline:
                raise
            granted = 0
            await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)  # the subscription was committed after the application
    return token


class ControlClient:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = f"{base}/api/v1"
        self.auth: dict[str, str] = {}

    async def sign_in(self) -> None:
        username, password = ADMIN
        body = await self.call("POST", "/auth/token", 200, json={"username": username, "password": password})
        self.auth = {"authorization": f"Bearer {body['access_token']}"}

    async def call(self, method: str, path: str, want: int, **kwargs: Any) -> Any:
        async with self.http.request(method, self.base + path, headers=self.auth, **kwargs) as response:
            body = await response.json(content_type=None)
            if response.status != want:
                raise ClusterError(f"control API {method} {path}: {response.status} {body}")
            return body


async def publish(control: ControlClient, backend: str, name: str) -> dict[str, Any]:
    api = await control.call(
        "POST",
        "/apis",
        201,
        json={"name": name, "context": f"/cluster/{name}", "version": "v1", "backend": {"endpoints": [backend]}},
    )
    await control.call("POST", f"/apis/{api['id']}/lifecycle", 200, json={"action": "publish"})
    return dict(api)


async def subscribe(control: ControlClient, api: dict[str, Any], tier: str) -> Consumer:
    name = f"{api['name']}-{tier}-{uuid.uuid4().hex[:6]}"
    app = await control.call("POST", "/applications", 201, json={"name": name, "tier": "Unlimited"})
    sub = {"application_id": app["id"], "api_id": api["id"], "tier": tier}
    await control.call("POST", "/subscriptions", 201, json=sub)
    return Consumer(app["id"], app["client_secret"], f"/cluster/{api['name']}/v1")


async def served_within(http: aiohttp.ClientSession, url: str, token: str, seconds: float) -> None:
    """Until every node answers 200 (the feed reached them all): several calls in a row through the LB."""
    deadline = time.monotonic() + seconds
    good = 0
    while good < 6:
        if time.monotonic() > deadline:
            raise ClusterError(f"{url} not served by every node within {seconds:g}s")
        async with http.get(url, headers={"authorization": f"Bearer {token}"}) as response:
            good = good + 1 if response.status == 200 else 0
        if not good:
            await asyncio.sleep(0.1)


@dataclass
class SmokeResult:
    api: dict[str, Any]
    load: Consumer  # an Unlimited subscription for load runs
    throttled: Counter[int]
    nodes: Counter[str]


async def smoke(cluster: Cluster) -> SmokeResult:
    backend = f"http://127.0.0.1:{cluster.ports.backend}"
    async with aiohttp.ClientSession() as http:
        control = ControlClient(http, cluster.control_url)
        await control.sign_in()
        view = await control.call("GET", "/cluster/nodes", 200)
        if len(view["nodes"]) != len(cluster.ports.nodes) or not view["consistent"]:
            raise ClusterError(f"the control API's cluster view does not show the nodes in line: {view}")
        await control.call("PUT", f"/tiers/subscription/{SMOKE_TIER}", 200, json={"requests": f"{SMOKE_LIMIT}/minute"})
        api = await publish(control, backend, "echo")
        load = await subscribe(control, api, "Unlimited")
        smoke_consumer = await subscribe(control, api, SMOKE_TIER)
        nodes = len(cluster.ports.nodes)
        token = await token_on_every_node(load, http, cluster.lb_url, nodes)  # signed by one node, valid on all
        await served_within(http, cluster.lb_url + load.path, token, 10)
        # the throttle is shared: 2 x the limit through the LB, spread over the nodes, passes exactly the limit
        token = await token_on_every_node(smoke_consumer, http, cluster.lb_url, nodes)
        statuses: Counter[int] = Counter()
        nodes: Counter[str] = Counter()
        for _ in range(2 * SMOKE_LIMIT):
            async with http.get(
                cluster.lb_url + smoke_consumer.path, headers={"authorization": f"Bearer {token}"}
            ) as response:
                statuses[response.status] += 1
                nodes[response.headers.get("x-served-by", "?")] += 1
        if statuses != Counter({200: SMOKE_LIMIT, 429: SMOKE_LIMIT}):
            raise ClusterError(f"throttle not exact across nodes: {dict(statuses)} over {dict(nodes)}")
        if len(nodes) != len(cluster.ports.nodes):
            raise ClusterError(f"the load balancer did not spread the calls: {dict(nodes)}")
        return SmokeResult(api, load, statuses, nodes)


async def load_consumer(cluster: Cluster) -> Consumer:
    """An application subscribed (Unlimited) to the cluster's echo API, published now if the smoke did not,
    known to every node: what the locust suite signs in as."""
    async with aiohttp.ClientSession() as http:
        control = ControlClient(http, cluster.control_url)
        await control.sign_in()
        found = [a for a in (await control.call("GET", "/apis?limit=200", 200))["items"] if a["name"] == "echo"]
        api = found[0] if found else await publish(control, f"http://127.0.0.1:{cluster.ports.backend}", "echo")
        consumer = await subscribe(control, api, "Unlimited")
        await token_on_every_node(consumer, http, cluster.lb_url, len(cluster.ports.nodes))
        return consumer
