"""`splp admin create`: the bootstrap administrator (there is no default account or password).

    echo "$PASSWORD" | splp admin create --username admin --tenant kominfo
    splp admin create --username admin --tenant kominfo      # prompts twice on a terminal

The password comes from stdin (first line) or an interactive prompt, never from the command line
(it would show in `ps` and shell history). The catalog is the one in --config (storage.catalog),
or --catalog URI. On an empty catalog the tenant is created as the national root tenant.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from gateway.catalog.errors import CatalogError, Conflict, Invalid
from gateway.catalog.models import Role


def add_subcommands(subparsers: Any) -> None:
    admin = subparsers.add_parser("admin", help="manage control-API administrators")
    sub = admin.add_subparsers(dest="admin_command", required=True)
    create = sub.add_parser(
        "create",
        help="create an administrator (password from stdin or a prompt)",
        description="Creates an administrator. On an empty catalog, --tenant becomes the national root tenant.",
    )
    create.add_argument("--username", required=True, help="login name (stored in lowercase)")
    create.add_argument("--tenant", required=True, help="slug of the administrator's tenant")
    create.add_argument(
        "--role", default="super_admin", choices=[Role.SUPER_ADMIN.value, Role.TENANT_ADMIN.value], help="role"
    )
    create.add_argument("--tenant-name", default=None, help="display name when the tenant is created")
    create.add_argument("--full-name", default="", help="the person's name")
    create.add_argument("--email", default=None, help="contact e-mail")
    create.add_argument("--config", default="conf/gateway.yaml", help="gateway.yaml (its storage.catalog)")
    create.add_argument("--catalog", default=None, help="catalog store URI; overrides --config")
    create.set_defaults(func=_create)


def read_password(stdin: Any = None) -> str:
    """First line of stdin when it is not a terminal; else an interactive prompt, typed twice."""
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        return str(stdin.readline().rstrip("\r\n"))
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ValueError("the passwords differ")
    return first


def _catalog_uri(args: argparse.Namespace) -> str:
    if args.catalog:
        return str(args.catalog)
    from gateway.config.load import load_config

    return load_config(args.config).gateway.storage.catalog


def _create(args: argparse.Namespace) -> int:
    try:
        password = read_password()
    except ValueError as exc:
        print(f"splp admin create: {exc}", file=sys.stderr)
        return 1
    if not password:
        print("splp admin create: no password given (stdin was empty)", file=sys.stderr)
        return 1
    uri = _catalog_uri(args)
    try:
        user = asyncio.run(_create_async(uri, args, password))
    except Invalid as exc:
        print(f"splp admin create: {exc.field}: {exc.message}", file=sys.stderr)
        return 1
    except Conflict as exc:
        print(f"splp admin create: {exc} (the username is taken)", file=sys.stderr)
        return 1
    except CatalogError as exc:
        print(f"splp admin create: {exc}", file=sys.stderr)
        return 1
    print(f"created {user.role.value} {user.username!r} (id {user.id}) in tenant {args.tenant!r}")
    return 0


async def _create_async(uri: str, args: argparse.Namespace, password: str) -> Any:
    from gateway.catalog.accounts import create_admin
    from gateway.catalog.store import open_store

    store = await open_store(uri)
    try:
        return await create_admin(
            store,
            username=args.username,
            password=password,
            tenant=args.tenant,
            role=Role(args.role),
            tenant_name=args.tenant_name,
            full_name=args.full_name,
            email=args.email,
        )
    finally:
        await store.close()
