"""`python -m bench.cluster up|smoke|down|bench` (what `make cluster`, `make cluster-down` and
`make bench SCENARIO=cluster` run). Ports come from the command line, so tests use free ones."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
from pathlib import Path

from bench.cluster.topology import Cluster, ClusterError, Ports, down, up


def _ports(text: str) -> list[int]:
    return [int(port) for port in text.replace(",", " ").split()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster")
    parser.add_argument("command", choices=["up", "smoke", "locust", "down", "bench"])
    parser.add_argument("--dir", type=Path, default=Path("var/cluster"), help="configs, logs, pids (cluster.json)")
    parser.add_argument("--lb-port", type=int, default=28080, help="HAProxy frontend")
    parser.add_argument("--node-ports", type=_ports, default=[28001, 28002], help="gateway nodes, e.g. '28001 28002'")
    parser.add_argument("--control-port", type=int, default=28010)
    parser.add_argument("--backend-port", type=int, default=28020)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432", help="server (no database)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--duration", type=float, default=20.0, help="bench: seconds of load per measurement")
    parser.add_argument("--locust-args", default="-u 20 -r 10 -t 20s", help="locust: users, rate, run time...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "up":
            if (args.dir / "cluster.json").exists():
                print(f"a cluster is already recorded in {args.dir}/cluster.json: run `make cluster-down`")
                return 1
            ports = Ports(args.lb_port, args.node_ports, args.control_port, args.backend_port)
            cluster = Cluster.new(args.dir, ports, postgres=args.postgres, redis=args.redis)
            try:
                up(cluster)
            except BaseException:
                down(cluster)
                (cluster.dir / "cluster.json").unlink(missing_ok=True)
                raise
            print(describe(cluster))
        elif args.command == "smoke":
            from bench.cluster.smoke import smoke

            result = asyncio.run(smoke(Cluster.load(args.dir)))
            print(
                "smoke ok: publish -> subscribe -> token -> call through HAProxy; "
                f"throttle exact across nodes: {dict(result.throttled)} spread {dict(result.nodes)}"
            )
        elif args.command == "locust":
            return run_locust(Cluster.load(args.dir), args.locust_args)
        elif args.command == "down":
            if not (args.dir / "cluster.json").exists():
                print(f"no cluster recorded in {args.dir}")
                return 0
            cluster = Cluster.load(args.dir)
            down(cluster)
            (cluster.dir / "cluster.json").unlink()
            print(f"cluster in {args.dir} stopped; database {cluster.database} dropped")
        else:
            from bench.cluster.scenarios import bench

            return bench(args)
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    return 0


def run_locust(cluster: Cluster, locust_args: str) -> int:
    """The locust suite (bench/locust_deployment.py) through HAProxy, as a fresh subscribed application."""
    from bench.cluster.smoke import load_consumer
    from bench.cluster.topology import ADMIN, ROOT

    consumer = asyncio.run(load_consumer(cluster))
    env = {
        **os.environ,
        "SPLP_CLIENT_ID": consumer.app_id,
        "SPLP_CLIENT_SECRET": consumer.secret,
        "SPLP_CONTROL_URL": cluster.control_url,
        "SPLP_CONTROL_USERNAME": ADMIN[0],
        "SPLP_CONTROL_PASSWORD": ADMIN[1],
        "PYTHONPATH": str(ROOT),
    }
    locustfile = str(ROOT / "bench" / "locust_deployment.py")
    command = [sys.executable, "-m", "locust", "-f", locustfile, "--headless", "--host", cluster.lb_url]
    command += ["--only-summary", *shlex.split(locust_args)]
    return subprocess.run(command, env=env, cwd=ROOT).returncode


def describe(cluster: Cluster) -> str:
    nodes = ", ".join(cluster.node_url(i) for i in range(len(cluster.ports.nodes)))
    pids = " ".join(f"{name}={pid}" for name, pid in cluster.pids.items())
    if "etl-worker" not in cluster.pids:
        pids += " (no ETL worker: this tree has no `splp etl worker` yet)"
    return (
        f"cluster up: HAProxy {cluster.lb_url} -> gateway nodes {nodes}; control API {cluster.control_url} "
        f"(admin / see bench/cluster/topology.py ADMIN); catalog {cluster.catalog}; Redis prefix {cluster.prefix}\n"
        f"pids: {pids}; logs and configs in {cluster.dir}"
    )


if __name__ == "__main__":
    sys.exit(main())
