"""A small institution-users service, like the one in the SPLP slides, for `make run` and the README.

In-memory and single-process on purpose: it stands in for an institution's backend behind the gateway.
Routes (as the slides list them): /myaccount/profile (GET, PUT), /myaccount/change-password (PUT),
/myaccount/institution/profile (GET, PUT), /institutions/{id}/internal, /institutions/{id}/internal/{iid},
/institution-users (GET, POST), /institution-users/{id} (GET, PUT, DELETE).
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def _problem(status: int, detail: str) -> Response:
    return Response(
        orjson.dumps({"status": status, "detail": detail}), status_code=status, media_type="application/problem+json"
    )


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def create_sample_backend() -> Starlette:
    institution = {"id": 1, "name": "Dinas Komunikasi dan Informatika", "code": "KOMINFO-TGL", "region": "Kab. Tegal"}
    internal = {
        1: {"id": 1, "institution_id": 1, "name": "Bidang Aplikasi Informatika"},
        2: {"id": 2, "institution_id": 1, "name": "Bidang Persandian dan Statistik"},
    }
    users: dict[int, dict[str, Any]] = {
        1: {"id": 1, "nip": "198703152010011002", "name": "Budi Santoso", "email": "budi@kominfo.tegalkab.go.id"},
        2: {"id": 2, "nip": "199001202015032001", "name": "Siti Rahma", "email": "siti@kominfo.tegalkab.go.id"},
    }
    ids = itertools.count(3)
    profile = {"id": 1, "name": "Budi Santoso", "email": "budi@kominfo.tegalkab.go.id", "institution_id": 1}

    async def my_profile(request: Request) -> Response:
        if request.method == "PUT":
            data = await _body(request)
            if data is None:
                return _problem(400, "expected a JSON object")
            profile.update({k: v for k, v in data.items() if k in ("name", "email")})
        return _json(profile)

    async def change_password(request: Request) -> Response:
        data = await _body(request)
        if not data or not data.get("new_password"):
            return _problem(400, "new_password is required")
        return _json({"changed": True})

    async def institution_profile(request: Request) -> Response:
        if request.method == "PUT":
            data = await _body(request)
            if data is None:
                return _problem(400, "expected a JSON object")
            institution.update({k: v for k, v in data.items() if k in ("name", "region")})
        return _json(institution)

    async def internal_list(request: Request) -> Response:
        institution_id = request.path_params["id"]
        return _json([unit for unit in internal.values() if unit["institution_id"] == institution_id])

    async def internal_one(request: Request) -> Response:
        unit = internal.get(request.path_params["internal_id"])
        if unit is None or unit["institution_id"] != request.path_params["id"]:
            return _problem(404, "no such internal unit")
        return _json(unit)

    async def user_list(request: Request) -> Response:
        if request.method == "POST":
            data = await _body(request)
            if not data or not data.get("name"):
                return _problem(400, "name is required")
            user = {"id": next(ids), "nip": data.get("nip", ""), "name": data["name"], "email": data.get("email", "")}
            users[user["id"]] = user
            return _json(user, status=201)
        return _json(list(users.values()))

    async def user_one(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        if user_id not in users:
            return _problem(404, "no such user")
        if request.method == "DELETE":
            del users[user_id]
            return Response(status_code=204)
        if request.method == "PUT":
            data = await _body(request)
            if data is None:
                return _problem(400, "expected a JSON object")
            users[user_id].update({k: v for k, v in data.items() if k in ("nip", "name", "email")})
        return _json(users[user_id])

    return Starlette(
        routes=[
            Route("/myaccount/profile", my_profile, methods=["GET", "PUT"]),
            Route("/myaccount/change-password", change_password, methods=["PUT"]),
            Route("/myaccount/institution/profile", institution_profile, methods=["GET", "PUT"]),
            Route("/institutions/{id:int}/internal", internal_list, methods=["GET"]),
            Route("/institutions/{id:int}/internal/{internal_id:int}", internal_one, methods=["GET"]),
            Route("/institution-users", user_list, methods=["GET", "POST"]),
            Route("/institution-users/{user_id:int}", user_one, methods=["GET", "PUT", "DELETE"]),
        ]
    )
