"""Connections registered in the catalog, their credentials sealed with the master key (gateway/sealing.py).

A job names one as `{kind: catalog, name: lapor-prod}`; engine.execute (and preview) replaces it with the
unsealed connection just before opening it, in the worker that runs the job. The control API stores and
lists them and never returns what was sealed. Environment variables (`${ENV:NAME}`) still serve jobs run
from a terminal.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from gateway.catalog.db import Database
from gateway.catalog.util import now
from gateway.sealing import MasterKey, SealingError

from .errors import EtlError
from .model import CatalogConnection, DatabaseConnection, JobConfig

MASTER_KEY_FILE = "var/splp/master.key"  # beside the catalog of `make run`; $SPLP_MASTER_KEY(_FILE) override
_ADAPTER: TypeAdapter[Any] = TypeAdapter(DatabaseConnection)


def _owner(name: str) -> str:
    return f"etl-connection:{name}"


async def master_key() -> MasterKey:
    return await asyncio.to_thread(MasterKey.load, MASTER_KEY_FILE)


class ConnectionSecrets:
    def __init__(self, db: Database, key: MasterKey) -> None:
        self.db = db
        self.key = key

    async def put(self, name: str, connection: dict[str, Any]) -> str:
        """Validates and seals a connection under `name` (replacing one of that name); returns its kind.
        ValidationError when the connection is not a valid postgres, mysql or sqlite connection."""
        parsed = _ADAPTER.validate_python(connection)
        sealed = self.key.seal(orjson.dumps(parsed.model_dump()), owner=_owner(name))
        async with self.db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE etl_connections SET kind = $2, sealed = $3, updated_at = $4 WHERE name = $1",
                name,
                parsed.kind,
                sealed,
                now(),
            )
            if not changed:
                await conn.execute(
                    "INSERT INTO etl_connections (name, kind, sealed, created_at, updated_at) "
                    "VALUES ($1, $2, $3, $4, $4)",
                    name,
                    parsed.kind,
                    sealed,
                    now(),
                )
        return str(parsed.kind)

    async def listing(self) -> list[dict[str, str]]:
        """Names and kinds only: what was sealed is never shown."""
        async with self.db.read() as conn:
            rows = await conn.fetch("SELECT name, kind, created_at, updated_at FROM etl_connections ORDER BY name")
        return [{k: str(v) for k, v in row.items()} for row in rows]

    async def delete(self, name: str) -> bool:
        async with self.db.transaction() as conn:
            return await conn.execute("DELETE FROM etl_connections WHERE name = $1", name) == 1

    async def get(self, name: str) -> Any:
        async with self.db.read() as conn:
            sealed = await conn.fetchval("SELECT sealed FROM etl_connections WHERE name = $1", name)
        if sealed is None:
            raise EtlError(f"no connection {name!r} is registered in the catalog (POST /api/v1/etl/connections)")
        try:
            return _ADAPTER.validate_python(orjson.loads(self.key.unseal(str(sealed), owner=_owner(name))))
        except (SealingError, ValidationError) as exc:
            raise EtlError(f"connection {name!r} in the catalog cannot be opened: {exc}") from None


async def resolve(job: JobConfig, db: Database) -> JobConfig:
    """The job with its catalog connections replaced by the registered ones (unchanged when it has none)."""
    wanted = {k: c.name for k, c in job.connections.items() if isinstance(c, CatalogConnection)}
    if not wanted:
        return job
    secrets = ConnectionSecrets(db, await master_key())
    resolved = dict(job.connections)
    for key, name in wanted.items():
        resolved[key] = await secrets.get(name)
    return job.model_copy(update={"connections": resolved})
