"""Shared set-up for the consumer tests on the store: the tenant tree, a publisher in bappenas, a
developer in jabar, and a PUBLISHED public API of bappenas."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog.api_models import Api, LifecycleAction, Visibility
from gateway.catalog.audit import Actor
from gateway.catalog.consumer_models import ApplicationCreate
from gateway.catalog.models import Role
from gateway.catalog.store import CatalogStore
from tests.gateway.catalog.test_apis import definition
from tests.gateway.catalog.test_repositories import tree


@dataclass
class World:
    ids: dict[str, str]
    publisher: Actor  # bappenas
    developer: Actor  # jabar
    api: Api  # bappenas, public, PUBLISHED


async def world(store: CatalogStore) -> World:
    ids = await tree(store)
    pub = await store.users.create(
        Actor.system("test"), tenant_id=ids["bap"], username="pub", role=Role.PUBLISHER, password_hash="x"
    )
    dev = await store.users.create(
        Actor.system("test"), tenant_id=ids["jabar"], username="dev", role=Role.SUBSCRIBER, password_hash="x"
    )
    publisher = Actor(pub.id, pub.username, pub.tenant_id)
    developer = Actor(dev.id, dev.username, dev.tenant_id)
    api = await store.apis.create(publisher, definition(visibility=Visibility.PUBLIC), tenant_id=ids["bap"])
    api = await store.apis.transition(publisher, api.id, LifecycleAction.PUBLISH)
    return World(ids, publisher, developer, api)


def app_named(name: str = "Sistem Kepegawaian Jabar", **extra: object) -> ApplicationCreate:
    return ApplicationCreate.model_validate({"name": name, **extra})
