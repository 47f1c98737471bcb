"""End-to-end throughput of the scoring stage's two variants: the environment is
measured as deployed (hps), deployed with `recstack_serving: {scoring: onnx}` (the ONNX
ranker's own embeddings) and measured, then deployed again as its inventory says and
measured once more. The runs are closed loops over gRPC with one user per request, as
the serving suite's throughput target; onnx is compared with the mean of the two hps
runs, whose ratio shows how far the machine drifted meanwhile.

The extra variable replaces the environment's own `recstack_serving` for that one run,
so the suite is for environments that set none (`local`, `testbed`); a cloud stack is
configured through its own deploy and is refused.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from typing import Any

from pipelines.serving.spec import HPS_SCORING, ONNX_SCORING
from recstack.cli import play
from recstack.endpoints import Endpoints
from recstack.environments import Environment
from recstack_contract import hps

from . import serving

VARIANT = ONNX_SCORING


def served_mode(where: Endpoints) -> str:
    """The scoring mode the environment's Triton serves: only the HPS variant reports
    its lookup on the metrics endpoint (once it scored a batch)."""
    with urllib.request.urlopen(where.metrics_url(), timeout=10) as response:
        metrics = response.read().decode()
    return HPS_SCORING if f"\n{hps.LOOKUP_ROWS_METRIC}{{" in metrics else VARIANT


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
    # hps, then onnx, then hps again: the machine's drift over the suite shows in the two
    # hps runs, and their mean is what onnx is compared with.
    print(f"measuring {env.name} as deployed…", flush=True)
    before = _measure(where, HPS_SCORING, user_ids, concurrency, duration_s)
    try:
        print(f"deploying {env.name} with scoring {VARIANT}…", flush=True)
        play(env, "site.yml", {"recstack_serving": {"scoring": VARIANT}})
        onnx = _measure(where, VARIANT, user_ids, concurrency, duration_s)
    finally:
        print(f"deploying {env.name} as its inventory says…", flush=True)
        play(env, "site.yml")
    after = _measure(where, HPS_SCORING, user_ids, concurrency, duration_s)
    rate = "recommendations_per_s"
    return {
        "runs": {"hps_before": before, VARIANT: onnx, "hps_after": after},
        "hps_over_onnx": round((before[rate] + after[rate]) / 2 / onnx[rate], 3),
        "hps_after_over_before": round(after[rate] / before[rate], 3),
    }


def _measure(
    where: Endpoints, mode: str, user_ids: Sequence[int], concurrency: int, duration_s: float
) -> dict[str, Any]:
    # A short warm-up: after a deployment the scoring instances start with empty caches.
    serving.concurrent("grpc", where.grpc_url(), user_ids, concurrency, 1, min(duration_s, 5.0))
    if served_mode(where) != mode:
        raise SystemExit(
            f"{where.environment} serves scoring {served_mode(where)}, not {mode}: does its "
            "inventory set recstack_serving.scoring? the suite compares onnx with hps"
        )
    result = serving.concurrent("grpc", where.grpc_url(), user_ids, concurrency, 1, duration_s)
    print(f"scoring {mode}: {json.dumps(result)}", flush=True)
    return result
