"""End-to-end serving benchmarks against the live ensemble: sequential latency and
throughput under concurrency, over gRPC and HTTP, plus per-stage times from Triton's
own statistics."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tritonclient.http as httpclient

from pipelines.serving.graph import NAMES as STAGES
from recstack.client import Recommender, admin_headers
from recstack_contract.triton import ENSEMBLE

Call = Callable[[np.ndarray], object]


def make_call(protocol: str, url: str) -> Call:
    """A function sending one ensemble request for the given users over one connection
    (the answer is not parsed: the clients' own cost stays small)."""
    return Recommender(url, protocol).infer


def _requests(
    user_ids: Sequence[int], users_per_request: int, count: int, seed: int
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    picks = rng.choice(np.asarray(user_ids), size=(count, users_per_request))
    return [row.astype(np.int32).reshape(-1, 1) for row in picks]


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "mean_ms": round(float(values.mean()), 3),
    }


def sequential(
    protocol: str, url: str, user_ids: Sequence[int], count: int, warmup: int
) -> dict[str, Any]:
    call = make_call(protocol, url)
    for users in _requests(user_ids, 1, warmup, seed=1):
        call(users)
    latencies = []
    for users in _requests(user_ids, 1, count, seed=2):
        started = time.perf_counter()
        call(users)
        latencies.append(time.perf_counter() - started)
    return {
        "protocol": protocol,
        "requests": count,
        "users_per_request": 1,
        **percentiles_ms(latencies),
    }


def concurrent(
    protocol: str,
    url: str,
    user_ids: Sequence[int],
    concurrency: int,
    users_per_request: int,
    duration_s: float,
) -> dict[str, Any]:
    """Closed loop: `concurrency` clients each send their next request when one returns."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop = threading.Event()

    def worker(slot: int) -> None:
        call = make_call(protocol, url)
        for users in _requests(user_ids, users_per_request, 100_000, seed=10 + slot):
            if stop.is_set():
                return
            started = time.perf_counter()
            try:
                call(users)
            except Exception:  # counted, and the run goes on
                errors[slot] += 1
                continue
            latencies[slot].append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(duration_s)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done = [lat for per_slot in latencies for lat in per_slot]
    return {
        "protocol": protocol,
        "concurrency": concurrency,
        "users_per_request": users_per_request,
        "duration_s": round(elapsed, 2),
        "requests": len(done),
        "errors": sum(errors),
        "requests_per_s": round(len(done) / elapsed, 1),
        "recommendations_per_s": round(len(done) * users_per_request / elapsed, 1),
        **percentiles_ms(done),
    }


def stage_statistics(url: str, admin_token: str) -> dict[str, dict[str, float]]:
    """Cumulative per-model counters (request count, queue and compute time in ns); a
    restricted API, so it needs the environment's admin token."""
    client = httpclient.InferenceServerClient(url)
    headers = admin_headers(admin_token, "http")
    stats = client.get_inference_statistics(headers=headers)["model_stats"]
    result = {}
    for model in stats:
        if model["name"] not in (*STAGES, ENSEMBLE):
            continue
        infer = model["inference_stats"]
        result[model["name"]] = {
            "count": infer["success"]["count"],
            "queue_ns": infer["queue"]["ns"],
            "compute_ns": infer["compute_input"]["ns"]
            + infer["compute_infer"]["ns"]
            + infer["compute_output"]["ns"],
            "total_ns": infer["success"]["ns"],
        }
    return result


def stage_breakdown(before: dict, after: dict) -> dict[str, dict[str, float]]:
    """Average per-request milliseconds of each stage between two statistics snapshots."""
    breakdown = {}
    for name, end in after.items():
        start = before.get(name, {"count": 0, "queue_ns": 0, "compute_ns": 0, "total_ns": 0})
        count = end["count"] - start["count"]
        if count <= 0:
            continue
        breakdown[name] = {
            "requests": count,
            "avg_queue_ms": round((end["queue_ns"] - start["queue_ns"]) / count / 1e6, 3),
            "avg_compute_ms": round((end["compute_ns"] - start["compute_ns"]) / count / 1e6, 3),
            "avg_total_ms": round((end["total_ns"] - start["total_ns"]) / count / 1e6, 3),
        }
    return breakdown
