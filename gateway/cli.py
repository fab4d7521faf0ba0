"""`splp`: serve, check, chain, apply, version, sample-backend (and admin, etl, certs from their modules)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.config.errors import ConfigError, ConfigProblem
from gateway.config.load import load_api_file, load_config
from gateway.config.model import LoadedConfig
from gateway.version import VERSION


def _serve(args: argparse.Namespace) -> int:
    from gateway.server.run import ServeOptions, serve

    return serve(
        ServeOptions(
            config_path=args.config,
            role=args.role,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            status_port=args.status_port,
            etl_worker=not args.no_etl_worker,
        )
    )


def _check(args: argparse.Namespace) -> int:
    """Validates gateway configs (with their includes), API files and ETL job files; reports every error."""
    from gateway.etl.errors import JobConfigError
    from gateway.etl.load import load_job

    problems: list[ConfigProblem] = []
    job_errors: list[str] = []
    checked = 0
    for raw in args.paths:
        path = Path(raw)
        if path.is_dir():
            targets = [path / "gateway.yaml"] if (path / "gateway.yaml").exists() else []
            targets += sorted(path.glob("etl/*.yaml")) + sorted(path.glob("etl/*.yml"))
        else:
            targets = [path]
        for target in targets:
            try:
                if _is_etl_job(target):
                    load_job(target)
                    checked += 1
                elif target.name in ("gateway.yaml", "gateway.yml") or not target.exists():
                    config = load_config(target)
                    check_chains(config)
                    checked += len(config.files)
                else:
                    load_api_file(target)
                    checked += 1
            except ConfigError as exc:
                problems.extend(exc.problems)
            except JobConfigError as exc:
                job_errors.append(str(exc))
    if problems or job_errors:
        if problems:
            print(ConfigError(problems).render(), file=sys.stderr)
        for message in job_errors:
            print(message, file=sys.stderr)
        return 1
    print(f"ok: {checked} file{'s' if checked != 1 else ''} valid")
    return 0


def check_chains(config: LoadedConfig) -> None:
    """Builds every API's policy chain the way serving does, for the cross-checks a policy makes against
    the rest of the config (tiers, key managers); nothing is started or connected. Raises ConfigError."""
    import dataclasses
    import tempfile

    from gateway.snapshot import Upstreams, build_snapshot
    from gateway.types import WorkerResources

    with tempfile.TemporaryDirectory(prefix="splp-check-") as scratch:
        # The resident key manager makes its key file when it is missing: make that one in scratch space.
        key_managers = tuple(
            km.model_copy(update={"key_file": str(Path(scratch) / "keys.json")}) if km.type == "resident" else km
            for km in config.gateway.key_managers
        )
        gateway = config.gateway.model_copy(update={"key_managers": key_managers})
        dry = dataclasses.replace(config, gateway=gateway)
        build_snapshot(dry, Upstreams(gateway.upstream), WorkerResources(), version=0)


def _is_etl_job(path: Path) -> bool:
    """ETL jobs live under an etl/ folder or declare `steps:` at the top level."""
    if path.parent.name == "etl":
        return True
    try:
        return any(line.startswith("steps:") for line in path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return False


def _chain(args: argparse.Namespace) -> int:
    from gateway.chain import describe
    from policies import SOURCES

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    for api in config.apis:
        print(f"{api.config.prefix}  ({api.config.name}, {api.source})")
        for line in describe(api.policies, SOURCES):
            print(f"  {line}")
    return 0


def _apply(args: argparse.Namespace) -> int:
    """Writes the APIs of conf/ files into the catalog store (see gateway/catalog/apply.py)."""
    import asyncio

    from gateway.catalog.apply import apply_config
    from gateway.catalog.errors import CatalogError
    from gateway.catalog.store import open_store

    config = load_config(args.path)  # ConfigError: reported by main() with file and key path
    uri = args.catalog or config.gateway.storage.catalog

    async def run() -> list[str]:
        store = await open_store(uri)
        try:
            report = await apply_config(store, config, publish=args.publish, dry_run=args.dry_run)
        finally:
            await store.close()
        return report.lines()

    try:
        lines = asyncio.run(run())
    except (CatalogError, OSError) as exc:
        print(f"splp apply: catalog {uri.split('@')[-1]}: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(("(dry run) " if args.dry_run else "") + line)
    return 1 if any(line.startswith("refused") for line in lines) else 0


def _sample_backend(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.sample_backend import create_sample_backend

    uvicorn.run(create_sample_backend(), host=args.host, port=args.port, log_level="warning", loop="uvloop")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="splp", description="SPLP government service bus")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (and its control API)")
    serve.add_argument("--config", default="conf/gateway.yaml", help="gateway.yaml or a directory holding it")
    serve.add_argument(
        "--role",
        default="all",
        choices=["gateway", "control", "all"],
        help="gateway: data plane only; control: control API only (--host/--port then name its listener); "
        "all (default): both in one process",
    )
    serve.add_argument("--workers", type=int, default=None, help="worker processes (default: gateway.workers)")
    serve.add_argument("--host", default=None, help="bind address (default: gateway.listen.host)")
    serve.add_argument("--port", type=int, default=None, help="bind port (default: gateway.listen.port)")
    serve.add_argument(
        "--status-port", type=int, default=None, help="overrides observability.status.port (0: a free port)"
    )
    serve.add_argument(
        "--log-level",
        default=None,
        choices=["critical", "error", "warning", "info", "debug"],
        help="overrides observability.log.level",
    )
    serve.add_argument(
        "--no-etl-worker", action="store_true", help="do not start the ETL worker process beside the control API"
    )
    serve.set_defaults(func=_serve)

    check = sub.add_parser("check", help="validate config files without side effects")
    check.add_argument("paths", nargs="+", help="gateway.yaml, an API file, or a directory")
    check.set_defaults(func=_check)

    chain = sub.add_parser("chain", help="print each API's resolved policy chain, outermost first")
    chain.add_argument("config", nargs="?", default="conf/gateway.yaml")
    chain.set_defaults(func=_chain)

    apply = sub.add_parser("apply", help="write the APIs of conf/ files into the catalog store (idempotent)")
    apply.add_argument("path", nargs="?", default="conf/", help="gateway.yaml or a directory holding it")
    apply.add_argument("--catalog", default=None, help="catalog store URI (default: storage.catalog of the config)")
    apply.add_argument("--publish", action="store_true", help="also publish APIs that are CREATED")
    apply.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    apply.set_defaults(func=_apply)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=lambda args: print(f"splp {VERSION}") or 0)

    backend = sub.add_parser("sample-backend", help="run the sample institution-users backend")
    backend.add_argument("--host", default="127.0.0.1")
    backend.add_argument("--port", type=int, default=9001)
    backend.set_defaults(func=_sample_backend)

    from gateway.certs import add_subcommands as add_cert_commands
    from gateway.control.admin_cli import add_subcommands as add_admin_commands
    from gateway.etl.cli import add_subcommands as add_etl_commands

    add_admin_commands(sub)
    add_cert_commands(sub)
    add_etl_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from gateway.config.observability import LogSettings
    from gateway.observability.logs import configure_logging

    configure_logging(LogSettings())  # `serve` re-applies it from the config's observability.log
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
