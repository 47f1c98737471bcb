"""End-to-end throughput of the scoring stage's two variants: the environment is
deployed with `recstack_serving: {scoring: onnx}` (the ONNX ranker's own embeddings),
measured, then deployed again as its inventory says and measured the same way, each
right after its deployment restarted Triton. Both runs are closed loops over gRPC with
one user per request, as the serving suite's throughput target.

The extra variable replaces the environment's own `recstack_serving` for that one run,
so the suite is for environments that set none (`local`, `testbed`); a cloud stack is
configured through its own deploy and is refused.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from typing import Any

from recstack import secrets
from recstack.endpoints import Endpoints
from recstack.environments import Environment
from recstack.runner import PlaybookResult, TaskOutcome, run_playbook
from recstack_contract import hps

from . import serving

VARIANT = "onnx"


def _deploy(env: Environment, extravars: dict[str, Any]) -> PlaybookResult:
    def progress(kind: str, outcome: TaskOutcome | None) -> None:
        if outcome is None:
            print(f"  ▶ {kind.removeprefix('play:')}", flush=True)
        elif outcome.status in ("changed", "failed", "unreachable"):
            print(f"    {outcome.status} {outcome.host}: {outcome.task}", flush=True)

    result = run_playbook(
        env, "site.yml", progress, {**secrets.playbook_variables(env), **extravars}
    )
    if not result.ok:
        failures = "; ".join(f"{f.host}: {f.task}: {f.message}" for f in result.failed)
        raise RuntimeError(f"deploying {env.name} failed ({result.status}): {failures}")
    return result


def served_mode(where: Endpoints) -> str:
    """The scoring mode the environment's Triton serves: only the HPS variant reports
    its lookup on the metrics endpoint (once it scored a batch)."""
    with urllib.request.urlopen(where.metrics_url(), timeout=10) as response:
        metrics = response.read().decode()
    return "hps" if f"\n{hps.LOOKUP_ROWS_METRIC}{{" in metrics else VARIANT


def compare(
    env: Environment,
    where: Endpoints,
    user_ids: Sequence[int],
    concurrency: int,
    duration_s: float,
) -> dict[str, Any]:
    """Recommendations/s of each variant at `concurrency`, and hps over onnx."""
    if env.cloud:
        raise SystemExit(
            f"the scoring-variants suite redeploys its environment with site.yml alone; "
            f"{env.name} is a cloud stack: run it against local or the testbed"
        )
    runs: dict[str, dict[str, Any]] = {}
    try:
        print(f"deploying {env.name} with scoring {VARIANT}…", flush=True)
        _deploy(env, {"recstack_serving": {"scoring": VARIANT}})
        runs[VARIANT] = _measure(where, VARIANT, user_ids, concurrency, duration_s)
    finally:
        print(f"deploying {env.name} as its inventory says…", flush=True)
        _deploy(env, {})
    runs["hps"] = _measure(where, "hps", user_ids, concurrency, duration_s)
    return {
        "variants": runs,
        "hps_over_onnx": round(
            runs["hps"]["recommendations_per_s"] / runs[VARIANT]["recommendations_per_s"], 3
        ),
    }


def _measure(
    where: Endpoints, mode: str, user_ids: Sequence[int], concurrency: int, duration_s: float
) -> dict[str, Any]:
    # A short warm-up: the scoring instances' caches start empty after the restart.
    serving.concurrent("grpc", where.grpc_url(), user_ids, concurrency, 1, min(duration_s, 5.0))
    if served_mode(where) != mode:
        raise SystemExit(
            f"{where.environment} serves scoring {served_mode(where)}, not {mode}: does its "
            "inventory set recstack_serving.scoring? the suite compares onnx with hps"
        )
    result = serving.concurrent("grpc", where.grpc_url(), user_ids, concurrency, 1, duration_s)
    print(f"scoring {mode}: {json.dumps(result)}", flush=True)
    return result
