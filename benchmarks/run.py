"""`python -m benchmarks.run --env local`: benchmark a deployed environment and write
benchmarks/results/<env>.json (the file is overwritten; commit it to record figures).

The client runs on the same machine as the server, so on a 2-core host the figures are a
floor for what separate client machines would see.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from pipelines.serving import keys
from recstack import endpoints, environments, health, secrets

from . import features, serving

RESULTS = Path(__file__).resolve().parent / "results"


def targets(report: dict, concurrency: int) -> dict[str, dict]:
    """The project's performance targets next to what this run measured."""
    grpc_sequential = next(r for r in report["sequential"] if r["protocol"] == "grpc")
    single_user = [
        r["recommendations_per_s"]
        for r in report["concurrent"]
        if r["users_per_request"] == 1 and r["concurrency"] == concurrency
    ]
    rows = {
        "ensemble_p99_ms_sequential_grpc": (grpc_sequential["p99_ms"], 10.0, "<="),
        f"recommendations_per_s_concurrency_{concurrency}_one_user_per_request": (
            min(single_user),
            800.0,
            ">=",
        ),
        "feature_fetch_speedup_100_entities": (
            report["feature_fetch"]["speedup_p50"],
            5.0,
            ">=",
        ),
    }
    return {
        name: {
            "measured": measured,
            "target": f"{op} {target}",
            "met": measured <= target if op == "<=" else measured >= target,
        }
        for name, (measured, target, op) in rows.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="local")
    parser.add_argument(
        "--requests", type=int, default=1000, help="sequential requests per protocol"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per concurrent run")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    env = environments.get(args.env)
    where = endpoints.load(env)
    client = where.redis_client(secrets.redis_password(env))
    user_ids = health.users_with_history(client, where.key_prefix)
    deployed = client.hgetall(keys.model(where.key_prefix))
    model = {k.decode(): v.decode() for k, v in deployed.items()}
    urls = {"grpc": where.grpc_url(), "http": where.http_url()}
    admin_token = secrets.triton_admin_token(env)

    report: dict = {
        "environment": args.env,
        "model_version": model.get("version"),
        "top_k": int(model.get("top_k", 0)),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "note": "client and server share the host's cores",
        "sequential": [],
        "concurrent": [],
    }
    before = serving.stage_statistics(urls["http"], admin_token)
    for protocol, url in urls.items():
        print(f"sequential latency over {protocol} ({args.requests} requests)…", flush=True)
        report["sequential"].append(
            serving.sequential(protocol, url, user_ids, args.requests, warmup=50)
        )
    report["stages_sequential"] = serving.stage_breakdown(
        before, serving.stage_statistics(urls["http"], admin_token)
    )
    for protocol, url in urls.items():
        for users_per_request in (1, 8):
            print(
                f"throughput over {protocol}, concurrency {args.concurrency}, "
                f"{users_per_request} user(s) per request…",
                flush=True,
            )
            report["concurrent"].append(
                serving.concurrent(
                    protocol, url, user_ids, args.concurrency, users_per_request, args.duration
                )
            )
    print("feature fetch: direct Redis vs Feast SDK (100 entities)…", flush=True)
    report["feature_fetch"] = features.compare(
        client, where.feast_repo, where.feast_project, user_ids, entities=100, repeats=300
    )
    report["targets"] = targets(report, args.concurrency)

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{args.env}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
