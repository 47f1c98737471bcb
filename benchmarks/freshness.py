"""Freshness under load: how long a click takes to leave the served answer while the
simulator sends a sustained event load and clients keep the ensemble busy, and what that
event load costs the serving throughput.

A probe picks a user's first recommended item, sends a click on it and asks again every
POLL_S until the item is gone: event produced → visible in the served answer, the whole
path (producer, broker, stream processor, Redis, filtering stage).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipelines.streaming.events import EventProducer
from pipelines.streaming.processor import FRESHNESS_SLO_S
from recstack import client
from recstack.endpoints import Endpoints

from . import cpu, serving

POLL_S = 0.01
# A probe that waits longer has failed: its click never reached the answer.
GIVE_UP_S = 10.0
# The last line of `recstack simulate`.
SIMULATED = re.compile(r"sent (?P<events>\d+) events .* (?P<rate>[\d.]+) events/s")


def probe(recommender: client.Recommender, producer: EventProducer, user: int) -> float | None:
    """Seconds from producing a click on the user's first item to an answer without it;
    None when the user has no answer to click in."""
    (answer,) = recommender.recommend([user])
    if not answer.item_ids or answer.fallback:
        return None
    item = answer.item_ids[0]
    sent = time.perf_counter()
    producer.send(user, item, "click")
    producer.flush()
    while time.perf_counter() - sent < GIVE_UP_S:
        if item not in recommender.recommend([user])[0].item_ids:
            return time.perf_counter() - sent
        time.sleep(POLL_S)
    return GIVE_UP_S


def under_load(
    where: Endpoints,
    user_ids: Sequence[int],
    rate: float,
    duration_s: float,
    concurrency: int,
    seed: int = 3,
) -> dict[str, Any]:
    """Serving throughput alone, then with `rate` events a second, then the freshness of
    clicks probed while the clients and the event load go on.

    The throughput under the event load is measured before the probes start: a probe
    asks every POLL_S, which is serving traffic of its own (tens of requests a second),
    not a cost of the events."""
    url = where.grpc_url()
    print(f"serving alone, concurrency {concurrency}, {duration_s:g} s…", flush=True)
    alone = serving.concurrent("grpc", url, user_ids, concurrency, 1, duration_s)

    # The event load is `recstack simulate` in a process of its own, as a client fleet
    # would be: in this one it would compete with the serving clients for the GIL. It
    # runs through both loaded phases.
    simulate = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recstack.cli",
            "simulate",
            "--rate",
            str(rate),
            "--duration",
            str(2 * duration_s + 3.0),
            "--env",
            where.environment,
            "--seed",
            str(seed),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(2.0)  # the event load is running before the clients start
    print(
        f"serving with {rate:g} events/s, concurrency {concurrency}, {duration_s:g} s…",
        flush=True,
    )
    measured = {"simulator": simulate.pid, "benchmark_clients": os.getpid()}
    cpu_before, started = cpu.snapshot(measured), time.monotonic()
    loaded = serving.concurrent("grpc", url, user_ids, concurrency, 1, duration_s)
    cpu_used = cpu.shares(cpu_before, cpu.snapshot(measured), time.monotonic() - started)

    print(f"probing freshness for {duration_s:g} s, the load going on…", flush=True)
    probing: dict[str, Any] = {}
    clients = threading.Thread(
        target=lambda: probing.update(
            serving.concurrent("grpc", url, user_ids, concurrency, 1, duration_s)
        )
    )
    clients.start()
    producer, recommender = EventProducer(where.kafka), client.Recommender(url)
    rng = np.random.default_rng(seed)
    probe_users = [int(u) for u in rng.choice(np.asarray(user_ids), size=10_000)]
    delays = []
    for user in probe_users:
        if not clients.is_alive():
            break
        delay = probe(recommender, producer, user)
        if delay is not None:
            delays.append(delay)
    clients.join()
    output, _ = simulate.communicate()
    # Joined: the console wraps long lines when it is not a terminal.
    summary = SIMULATED.search(" ".join((output or "").split()))
    if simulate.returncode != 0 or summary is None:
        raise RuntimeError(f"the event load failed: {(output or '')[-2000:]}")
    if not delays:
        raise RuntimeError("no probe found an answer to click in: is the ensemble serving?")
    values = np.asarray(delays)
    return {
        "event_rate_target": rate,
        "events_sent": int(summary["events"]),
        "event_rate_achieved": float(summary["rate"]),
        "concurrency": concurrency,
        "freshness": {
            "probes": len(delays),
            "p50_s": round(float(np.percentile(values, 50)), 3),
            "p95_s": round(float(np.percentile(values, 95)), 3),
            "p99_s": round(float(np.percentile(values, 99)), 3),
            "max_s": round(float(values.max()), 3),
            "over_objective": int((values > FRESHNESS_SLO_S).sum()),
            "objective_s": FRESHNESS_SLO_S,
        },
        "serving_alone": alone,
        "serving_with_events": loaded,
        "serving_while_probing": probing,
        "throughput_ratio": round(loaded["requests_per_s"] / alone["requests_per_s"], 3),
        # Of the run with events (before the probes), processes on this machine
        # (benchmarks/cpu.py).
        "cpu_percent_of_one_core": cpu_used,
    }
