"""Locust load for ANY SPLP deployment (not only bench targets): an application's users call the APIs it
is subscribed to, as a real consumer would.

- Tokens come from the gateway's `/oauth2/token` (client credentials of one application, from the
  environment) and are refreshed before they expire, and at once on a 401.
- The API mix is read from the catalog through the control API: the application's ACTIVE
  subscriptions, each API's GET resources ({params} filled with SPLP_LOCUST_PARAM), weighted by
  SPLP_LOCUST_WEIGHTS ("/bappenas/pegawai/v1=3,/kemenkes/faskes/v1=1"; unlisted APIs weigh 1).
- 429s are not failures: they are counted apart (request type THROTTLED in the statistics), and the
  user honours Retry-After / RateLimit reset before calling that API again; `RateLimit ... r=0` (or
  X-RateLimit-Remaining: 0) makes it wait for the window to reset before it is refused.

Environment: SPLP_CLIENT_ID, SPLP_CLIENT_SECRET (the application), SPLP_CONTROL_URL,
SPLP_CONTROL_USERNAME, SPLP_CONTROL_PASSWORD (a control-API account that sees the application's
subscriptions), optional SPLP_LOCUST_WEIGHTS, SPLP_LOCUST_PARAM (default 1), SPLP_LOCUST_WAIT (seconds
between a user's calls, default 0). --host is the gateway (or its load balancer).

    locust -f bench/locust_deployment.py --headless --host http://127.0.0.1:28080 -u 50 -r 10 -t 1m
    # distributed: one master, N workers (each worker reads the catalog itself)
    locust -f bench/locust_deployment.py --master --headless --expect-workers 2 --host ... -u 200 -r 20 -t 5m
    locust -f bench/locust_deployment.py --worker --master-host 127.0.0.1   # run twice
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from locust import FastHttpUser, constant, events, task
from locust.env import Environment

_TEMPLATE = re.compile(r"\{[^}/]+\}")
_RESET = re.compile(r"(?:^|[;,\s])t=(\d+)")
_REMAINING = re.compile(r"(?:^|[;,\s])r=(\d+)")


@dataclass(frozen=True)
class Target:
    api: str  # context + version, e.g. /bappenas/pegawai/v1
    path: str  # a concrete GET path under it


@dataclass
class Mix:
    targets: list[Target]
    weights: list[float]


MIX = Mix([], [])


def _weights(text: str) -> dict[str, float]:
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {api.strip().rstrip("/"): float(weight) for api, weight in pairs}


def read_mix(env: dict[str, str]) -> Mix:
    """The application's subscribed APIs from the control API, as weighted GET targets."""
    control = env["SPLP_CONTROL_URL"].rstrip("/") + "/api/v1"
    credentials = {"username": env["SPLP_CONTROL_USERNAME"], "password": env["SPLP_CONTROL_PASSWORD"]}
    bearer = {"authorization": f"Bearer {_json(f'{control}/auth/token', body=credentials)['access_token']}"}
    app = env["SPLP_CLIENT_ID"]
    subscriptions = _json(f"{control}/subscriptions?application_id={app}&limit=200", headers=bearer)["items"]
    weights = _weights(env.get("SPLP_LOCUST_WEIGHTS", ""))
    param = env.get("SPLP_LOCUST_PARAM", "1")
    mix = Mix([], [])
    for sub in subscriptions:
        if sub["status"] != "ACTIVE":
            continue
        api = _json(f"{control}/apis/{sub['api_id']}", headers=bearer)
        prefix = f"{api['context'].rstrip('/')}/{api['version']}"
        resources = map(_resource, api["resources"])
        paths = [_concrete(path, param) for methods, path in resources if {"GET", "ANY"} & methods]
        for path in paths or ["/"]:
            mix.targets.append(Target(prefix, prefix + path))
            mix.weights.append(weights.get(prefix, 1.0) / max(1, len(paths)))
    if not mix.targets:
        raise RuntimeError(f"application {app} has no ACTIVE subscription with a GET resource")
    return mix


def _json(url: str, *, body: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the operator's control URL
        return json.load(response)


def _resource(resource: str | dict[str, Any]) -> tuple[set[str], str]:
    """ "GET,POST /pegawai/{nip}" (how the control API writes a resource) or {"methods": [...], "path": ...}."""
    if isinstance(resource, str):
        methods, path = resource.split(None, 1)
        return set(methods.upper().split(",")), path
    return {m.upper() for m in resource["methods"]}, resource["path"]


def _concrete(template: str, param: str) -> str:
    path = _TEMPLATE.sub(param, template)
    return path[:-1] + param if path.endswith("*") else path


@events.init.add_listener
def _load_mix(environment: Environment, **_: Any) -> None:
    if environment.parsed_options is not None and getattr(environment.parsed_options, "master", False):
        return  # the master sends no request: its workers read the catalog themselves
    mix = read_mix(dict(os.environ))
    MIX.targets, MIX.weights = mix.targets, mix.weights


class Consumer(FastHttpUser):
    wait_time = constant(float(os.environ.get("SPLP_LOCUST_WAIT", "0")))

    def on_start(self) -> None:
        self.token = ""
        self.expires = 0.0
        self.paused: dict[str, float] = {}  # API -> monotonic time before which it is not called

    def _bearer(self) -> str:
        if time.monotonic() >= self.expires:
            with self.client.post(
                "/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(os.environ["SPLP_CLIENT_ID"], os.environ["SPLP_CLIENT_SECRET"]),
                name="/oauth2/token",
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(f"token refused: {response.status_code}")
                    return ""
                body = response.json()
                self.token = body["access_token"]
                self.expires = time.monotonic() + max(1.0, float(body.get("expires_in", 300)) - 30)
        return self.token

    @task
    def call(self) -> None:
        target = self._pick()
        if target is None:  # every API asked this user to wait: honour the earliest reset
            time.sleep(min(5.0, min(self.paused.values()) - time.monotonic()))
            return
        headers = {"authorization": f"Bearer {self._bearer()}"}
        with self.client.get(target.path, headers=headers, name=target.api, catch_response=True) as response:
            status = response.status_code
            if status == 429:
                response.success()  # not an error: counted apart below
                self._pause(target.api, response.headers, refused=True)
                self.environment.events.request.fire(
                    request_type="THROTTLED",
                    name=target.api,
                    response_time=0,
                    response_length=0,
                    exception=None,
                    context={},
                )
            elif status == 401:
                self.expires = 0.0  # refreshed on the next call
                response.failure("401: token refused")
            elif status >= 400:
                response.failure(f"status {status}")
            else:
                self._pause(target.api, response.headers, refused=False)

    def _pick(self) -> Target | None:
        """A weighted pick among the APIs this user may call now (rate-limit answers pause an API)."""
        now = time.monotonic()
        pairs = zip(MIX.targets, MIX.weights, strict=True)
        weights = [w if self.paused.get(t.api, 0.0) <= now else 0.0 for t, w in pairs]
        return random.choices(MIX.targets, weights)[0] if any(weights) else None

    def _pause(self, api: str, headers: Any, *, refused: bool) -> None:
        """Retry-After on a 429; otherwise a window with nothing remaining waits for its reset."""
        seconds = 0.0
        if refused and headers.get("retry-after", "").isdigit():
            seconds = float(headers["retry-after"])
        ratelimit = headers.get("ratelimit", "")
        remaining = _REMAINING.search(ratelimit)
        reset = _RESET.search(ratelimit)
        if remaining is None and headers.get("x-ratelimit-remaining", "").isdigit():
            exhausted = int(headers["x-ratelimit-remaining"]) == 0
            reset_text = headers.get("x-ratelimit-reset", "")
            reset_in = float(reset_text) if reset_text.isdigit() else 0.0
        else:
            exhausted = remaining is not None and int(remaining.group(1)) == 0
            reset_in = float(reset.group(1)) if reset else 0.0
        if exhausted or refused:
            seconds = max(seconds, reset_in)
        if seconds > 0:
            self.paused[api] = time.monotonic() + seconds
