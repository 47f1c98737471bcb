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
from pipelines.streaming.traffic import SENDING
from recstack import client
from recstack.endpoints import Endpoints

from . import cpu, serving

POLL_S = 0.01
# A probe that waits longer has failed: its click never reached the answer.
GIVE_UP_S = 10.0
# Pairs of runs, alone and under the event load.
ROUNDS = 3
# The event load outlasts the run it loads by this much (its producer's last flush).
LOAD_MARGIN_S = 1.0
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


class EventLoad:
    """`recstack simulate` in a process of its own, as a client fleet would be (in the
    benchmark's process it would compete with the serving clients for the GIL), sending
    `rate` events a second for `duration_s` once it has started."""

    def __init__(self, where: Endpoints, rate: float, duration_s: float, seed: int) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "recstack.cli",
                "simulate",
                "--rate",
                str(rate),
                "--duration",
                str(duration_s),
                "--env",
                where.environment,
                "--seed",
                str(seed),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.pid = self._process.pid
        # Building the traffic model takes a few CPU seconds: a run measured meanwhile
        # would count them as a cost of the events.
        self._output: list[str] = []
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._output.append(line)
            if line.startswith(SENDING):
                return
        self.finish()  # it ended before sending: finish() says why

    def __enter__(self) -> EventLoad:
        return self

    def __exit__(self, *_: object) -> None:
        # A run that failed midway must not leave the load sending on its own.
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()

    def finish(self) -> dict[str, float]:
        """Wait for the end of the run; the events sent and the rate achieved."""
        rest, _ = self._process.communicate()
        output = "".join(self._output) + (rest or "")
        # Joined: the console wraps long lines when it is not a terminal.
        summary = SIMULATED.search(" ".join(output.split()))
        if self._process.returncode != 0 or summary is None:
            raise RuntimeError(f"the event load failed: {output[-2000:]}")
        return {"events": int(summary["events"]), "rate": float(summary["rate"])}


def under_load(
    where: Endpoints,
    user_ids: Sequence[int],
    rate: float,
    duration_s: float,
    concurrency: int,
    seed: int = 3,
) -> dict[str, Any]:
    """ROUNDS of serving alone then with `rate` events a second, then the freshness of
    clicks probed while the clients and the event load go on.

    Alternating rounds: a shared machine's speed drifts over a minute or two, and one
    pair of runs measured that drift as much as the events. The throughput under the
    event load is measured before the probes start: a probe asks every POLL_S, which is
    serving traffic of its own (tens of requests a second), not a cost of the events."""
    url = where.grpc_url()
    alone, loaded, cpu_used, sent = [], [], [], []
    for round_ in range(1, ROUNDS + 1):
        print(f"round {round_}/{ROUNDS}: serving alone, {duration_s:g} s…", flush=True)
        alone.append(serving.concurrent("grpc", url, user_ids, concurrency, 1, duration_s))
        with EventLoad(where, rate, duration_s + LOAD_MARGIN_S, seed + round_) as load:
            print(f"round {round_}/{ROUNDS}: serving with {rate:g} events/s…", flush=True)
            measured = {"simulator": load.pid, "benchmark_clients": os.getpid()}
            cpu_before, started = cpu.snapshot(measured), time.monotonic()
            loaded.append(serving.concurrent("grpc", url, user_ids, concurrency, 1, duration_s))
            cpu_used.append(
                cpu.shares(cpu_before, cpu.snapshot(measured), time.monotonic() - started)
            )
            sent.append(load.finish())

    print(f"probing freshness for {duration_s:g} s, the load going on…", flush=True)
    with EventLoad(where, rate, duration_s + LOAD_MARGIN_S, seed) as load:
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
        sent.append(load.finish())
    if not delays:
        raise RuntimeError("no probe found an answer to click in: is the ensemble serving?")
    values = np.asarray(delays)
    ratios = [
        with_events["requests_per_s"] / without["requests_per_s"]
        for without, with_events in zip(alone, loaded, strict=True)
    ]
    return {
        "event_rate_target": rate,
        "events_sent": sum(run["events"] for run in sent),
        "event_rate_achieved": min(run["rate"] for run in sent),
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
        "rounds": ROUNDS,
        "serving_alone": alone,
        "serving_with_events": loaded,
        "serving_while_probing": probing,
        "round_ratios": [round(ratio, 3) for ratio in ratios],
        # Of all rounds: the mean throughput with the events over the mean without.
        "throughput_ratio": round(
            float(np.mean([run["requests_per_s"] for run in loaded]))
            / float(np.mean([run["requests_per_s"] for run in alone])),
            3,
        ),
        # Per part, the mean over the loaded runs of processes on this machine
        # (benchmarks/cpu.py).
        "cpu_percent_of_one_core": {
            part: round(float(np.mean([run[part] for run in cpu_used if part in run])), 1)
            for part in sorted({part for run in cpu_used for part in run})
        },
    }
