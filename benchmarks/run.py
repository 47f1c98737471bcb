"""`python -m benchmarks.run --env local`: benchmark a deployed environment and write
benchmarks/results/<env>.json (serving), benchmarks/results/<env>-events.json
(freshness and serving under an event load), <env>-hps-updates.json (embedding
updates: published → served, trainer → Redis) and <env>-scoring-variants.json
(recommendations/s with the scoring stage's onnx and hps variants: it redeploys the
environment twice, benchmarks/scoring_variants.py); each file is overwritten by its suite
(`--suite serving|events|hps-updates|scoring-variants`, all by default); commit them to
record figures.

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
from typing import Any

from pipelines.serving import keys
from recstack import endpoints, environments, health, secrets

from . import features, freshness, hps_updates, scoring_variants, serving

RESULTS = Path(__file__).resolve().parent / "results"
# scoring-variants last: it redeploys the environment.
SUITES = ("serving", "events", "hps-updates", "scoring-variants")


def judged(rows: dict[str, tuple[float, float, str]]) -> dict[str, dict]:
    """Each measure next to its target: (measured, target, "<=" or ">=")."""
    return {
        name: {
            "measured": measured,
            "target": f"{op} {target}",
            "met": measured <= target if op == "<=" else measured >= target,
        }
        for name, (measured, target, op) in rows.items()
    }


def serving_targets(report: dict, concurrency: int) -> dict[str, dict]:
    grpc_sequential = next(r for r in report["sequential"] if r["protocol"] == "grpc")
    single_user = [
        r["recommendations_per_s"]
        for r in report["concurrent"]
        if r["users_per_request"] == 1 and r["concurrency"] == concurrency
    ]
    return judged(
        {
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
    )


def events_targets(report: dict) -> dict[str, dict]:
    return judged(
        {
            "freshness_p99_s": (
                report["freshness"]["p99_s"],
                report["freshness"]["objective_s"],
                "<=",
            ),
            # Serving under the event load within 15 % of serving without it.
            "serving_throughput_ratio_with_events": (report["throughput_ratio"], 0.85, ">="),
        }
    )


def run_hps_updates(args: argparse.Namespace, context: dict[str, Any]) -> dict:
    where, client = context["where"], context["client"]
    print(f"published update -> served ({args.update_probes} probes)…", flush=True)
    served = hps_updates.update_to_served(where, client, context["user_ids"][0], args.update_probes)
    print(f"trainer -> Redis ({args.training_events} impressions)…", flush=True)
    trained = hps_updates.trainer_to_redis(where, client, context["user_ids"], args.training_events)
    report = {"update_to_served": served, "trainer_to_redis": trained}
    report["targets"] = judged(
        {"update_to_served_p99_s": (served["p99_s"], served["objective_s"], "<=")}
    )
    return report


def run_scoring_variants(args: argparse.Namespace, context: dict[str, Any]) -> dict:
    report = scoring_variants.compare(
        context["env"], context["where"], context["user_ids"], args.concurrency, args.duration
    )
    report["targets"] = judged(
        # hps within 15 % of the ONNX ranker, end to end.
        {
            f"hps_over_onnx_recommendations_per_s_concurrency_{args.concurrency}": (
                report["hps_over_onnx"],
                0.85,
                ">=",
            )
        }
    )
    return report


def run_serving(args: argparse.Namespace, context: dict[str, Any]) -> dict:
    where, urls, user_ids = context["where"], context["urls"], context["user_ids"]
    report: dict = {"sequential": [], "concurrent": []}
    before = serving.stage_statistics(urls["http"], context["admin_token"])
    for protocol, url in urls.items():
        print(f"sequential latency over {protocol} ({args.requests} requests)…", flush=True)
        report["sequential"].append(
            serving.sequential(protocol, url, user_ids, args.requests, warmup=50)
        )
    report["stages_sequential"] = serving.stage_breakdown(
        before, serving.stage_statistics(urls["http"], context["admin_token"])
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
        context["client"],
        where.feast_repo,
        where.feast_project,
        user_ids,
        entities=100,
        repeats=300,
    )
    report["targets"] = serving_targets(report, args.concurrency)
    return report


def run_events(args: argparse.Namespace, context: dict[str, Any]) -> dict:
    report = freshness.under_load(
        context["where"], context["user_ids"], args.event_rate, args.duration, args.concurrency
    )
    report["targets"] = events_targets(report)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="local")
    parser.add_argument("--suite", choices=SUITES, action="append", help="default: all")
    parser.add_argument(
        "--requests", type=int, default=1000, help="sequential requests per protocol"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per concurrent run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--event-rate", type=float, default=1000.0, help="events a second during the event load"
    )
    parser.add_argument("--update-probes", type=int, default=100, help="update -> served probes")
    parser.add_argument(
        "--training-events", type=int, default=20_000, help="impressions trained, trainer -> Redis"
    )
    args = parser.parse_args()

    env = environments.get(args.env)
    where = endpoints.load(env)
    client = where.redis_client(secrets.redis_password(env))
    deployed = client.hgetall(keys.model(where.key_prefix))
    model = {k.decode(): v.decode() for k, v in deployed.items()}
    context = {
        "env": env,
        "where": where,
        "client": client,
        "user_ids": health.users_with_history(client, where.key_prefix),
        "urls": {"grpc": where.grpc_url(), "http": where.http_url()},
        "admin_token": secrets.triton_admin_token(env),
    }
    suites = {
        "serving": (run_serving, ""),
        "events": (run_events, "-events"),
        "hps-updates": (run_hps_updates, "-hps-updates"),
        "scoring-variants": (run_scoring_variants, "-scoring-variants"),
    }
    for suite in args.suite or SUITES:
        run, suffix = suites[suite]
        report = {
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
            **run(args, context),
        }
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{args.env}{suffix}.json"
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report["targets"], indent=2))
        print(f"written to {out}")


if __name__ == "__main__":
    main()
