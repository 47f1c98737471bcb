"""The embedding update path of a deployed environment, measured through its services:

- published update → served: a probe replaces the item-id row of one of a user's
  candidates (HPS's message format, the kit's producer settings, HugeCTR's partitioning)
  and asks the scoring stage every POLL_S until that candidate's score changed: the
  broker, the updater (recstack-hps-updater), Redis and the stage's cache. The probes
  alternate the row's sign and the last one puts it back.
- trainer → Redis: a burst of impressions on the interactions topic; rows/s from the
  first event sent until both the online trainer's group (on the interactions) and the
  updater's (on the table's topic) have committed everything, i.e. every row the
  trainer published is in Redis. The rows are the updater's own count.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import redis
import tritonclient.grpc as grpcclient
from confluent_kafka import Producer

from pipelines.config import Paths
from pipelines.hugectr.trainer import producer_config, settled
from pipelines.serving import keys
from pipelines.serving import service_status as status
from pipelines.serving.catalog import Catalog
from pipelines.serving.hps_layout import VALUE_DTYPE
from pipelines.serving.hps_messages import Update, sink_messages
from pipelines.serving.hps_redis import RedisTier
from pipelines.serving.spec import ServingSpec
from pipelines.streaming.events import EventProducer
from recstack.endpoints import Endpoints
from recstack.stages import item_id_keys, scoring_inputs, served_scores
from recstack_contract import hps
from recstack_contract.kafka import (
    EMBEDDINGS,
)

# The target: a published update is served within this.
UPDATE_TO_SERVED_TARGET_S = 1.0
POLL_S = 0.005
GIVE_UP_S = 30.0


def _percentiles(seconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(seconds)
    return {
        "probes": len(values),
        **{f"p{q}_s": round(float(np.percentile(values, q)), 3) for q in (50, 95, 99)},
        "max_s": round(float(values.max()), 3),
    }


def _stage() -> Path:
    return Paths().model_repository / "scoring" / "1"


def update_to_served(where: Endpoints, client: redis.Redis, user: int, probes: int) -> dict:
    stage = _stage()
    spec = ServingSpec.read(stage)
    triton = grpcclient.InferenceServerClient(where.grpc_url())
    arrays = scoring_inputs(triton, [user])
    column = int(np.flatnonzero(np.isfinite(served_scores(triton, arrays)[0]))[0])
    key = item_id_keys(
        stage, arrays["user_sparse"].shape[1], arrays["filtered_ids"][0, column : column + 1]
    )
    tier = RedisTier(client, spec.hps_partitions)
    (stored,) = tier.read(hps.table_tag(), key)
    original = np.frombuffer(stored, VALUE_DTYPE).reshape(1, -1)
    producer = Producer(producer_config(where.kafka))
    latencies = []
    for probe in range(probes + probes % 2):  # even: the last probe restores the row
        vector = original if probe % 2 else -original
        served = served_scores(triton, arrays)[0, column]
        sent = time.perf_counter()
        for partition, value in sink_messages(Update(key, vector), EMBEDDINGS.partitions):
            producer.produce(EMBEDDINGS.name, value=value, partition=partition)
        producer.flush(10)
        while abs(served_scores(triton, arrays)[0, column] - served) < 1e-6:
            if time.perf_counter() - sent > GIVE_UP_S:
                raise RuntimeError(f"probe {probe}: the update was not served in {GIVE_UP_S} s")
            time.sleep(POLL_S)
        latencies.append(time.perf_counter() - sent)
        # Each scoring instance has its own cache, and the change was seen on one. Once
        # every instance's entry has expired, all of them serve this probe's row: else
        # a stale one could answer the next probe's "before" with the row that probe
        # sends, and no change would ever show.
        time.sleep(spec.hps_refresh_s + POLL_S)
    return {
        **_percentiles(latencies),
        "cache_refresh_s": spec.hps_refresh_s,
        "objective_s": UPDATE_TO_SERVED_TARGET_S,
    }


def trainer_to_redis(
    where: Endpoints, client: redis.Redis, users: Sequence[int], events: int
) -> dict:
    items = Catalog.load(_stage()).item_ids
    updater = keys.hps_updater(where.key_prefix, "volatile", where.trainer_hosts[0])
    rows_before = int(status.read(client, updater)["rows"])
    rng = np.random.default_rng(0)
    producer = EventProducer(where.kafka)
    started = time.perf_counter()
    for user, item in zip(
        rng.choice(users, events).tolist(), rng.choice(items, events).tolist(), strict=True
    ):
        producer.send(user, item, "impression")
    producer.flush()
    sent_s = time.perf_counter() - started
    while not settled(where.kafka):
        if time.perf_counter() - started > 600:
            raise RuntimeError("the trainer and the updater did not catch up within 600 s")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    time.sleep(1.5 * status.INTERVAL_S)  # the updater's next report has the rows
    rows = int(status.read(client, updater)["rows"]) - rows_before
    return {
        "events": events,
        "events_sent_s": round(sent_s, 2),
        "rows_written": rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": int(rows / elapsed),
        "events_per_s": int(events / elapsed),
    }
