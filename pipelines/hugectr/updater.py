"""The HPS updater service: embedding updates from Kafka into one tier, with HPS's
consumer groups, so that any producer writing HPS's message format updates what the
serving stages read.

    python -m pipelines.hugectr.updater --config pipeline.yml --tier volatile
    python -m pipelines.hugectr.updater --config pipeline.yml --tier persistent

`volatile` applies them to the Redis tier in the shared group `hps.volatile`;
`persistent` applies them to this host's RocksDB in the group
`hps.persistent.<hostname>`, and must be that database's only writer. The table, its
vector size and its partitions come from the published model and the `hps` settings;
Redis from RECSTACK_REDIS_*, the brokers from RECSTACK_KAFKA_*.

Per batch: apply (serving/hps_updater.py), then commit. A crash in between replays the
batch, which writes the same rows again. Malformed messages are counted by reason in
the log line, which is printed whenever the counts changed.
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition

from recstack_contract import hps
from recstack_contract.kafka import (
    EMBEDDINGS,
    HPS_VOLATILE_GROUP,
    KafkaEndpoint,
    from_environment,
    hps_persistent_group,
)

from ..artifacts import load_latest
from ..config import PipelineConfig, load_config
from ..online import redis_connection
from ..serving.hps_rocksdb import RocksDbWriter
from ..serving.hps_updater import RedisTier, RocksDbTier, Tier, Updater
from ..serving.hugectr_files import ExportedTable
from ..streaming.kafka_client import client_config
from .export import files_in

TIERS = ("volatile", "persistent")
BATCH_MAX = 1000
POLL_S = 0.05


def consumer_config(endpoint: KafkaEndpoint, group: str) -> dict:
    return {
        **client_config(endpoint),
        "group.id": group,
        # As HPS's consumer: commits follow the writes, and a new group replays the
        # retained history from the oldest update.
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        # The local broker answers a fetch only when this wait is over (processor.py).
        "fetch.wait.max.ms": 100,
    }


def group_of(tier: str, hostname: str) -> str:
    return HPS_VOLATILE_GROUP if tier == "volatile" else hps_persistent_group(hostname)


def vec_sizes(cfg: PipelineConfig) -> dict[str, int]:
    """The tables the tiers serve, by tag: the published ranker's one table."""
    network = files_in(load_latest(cfg.paths.artifacts_dir).path).network
    return {hps.table_tag(): ExportedTable.read(network).vec_size}


def tier_of(cfg: PipelineConfig, tier: str) -> Tier:
    if tier == "volatile":
        return RedisTier(redis_connection(), cfg.hps.num_partitions)
    return RocksDbTier(RocksDbWriter(Path(cfg.hps.rocksdb_dir)))


def run(updater: Updater, consumer: Consumer, stop: threading.Event) -> None:
    logged = ""
    try:
        while not stop.is_set():
            messages = [m for m in consumer.consume(BATCH_MAX, POLL_S) if _ok(m)]
            if not messages:
                continue
            ends = updater.handle(messages)
            offsets = [TopicPartition(t, p, o) for (t, p), o in ends.items()]
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as error:
                # A rebalance moved the partitions: their new owner writes the rows again.
                print(f"commit refused, the batch will be replayed: {error}", flush=True)
            counts = updater.counts
            line = f"messages {counts.messages} rows {counts.rows} skipped " + (
                " ".join(f"{reason}={n}" for reason, n in sorted(counts.skipped.items())) or "none"
            )
            if line != logged:
                print(line, flush=True)
                logged = line
    finally:
        consumer.close()


def _ok(message) -> bool:
    if (error := message.error()) is None:
        return True
    if error.fatal():
        raise KafkaException(error)
    # End of a partition and the like: nothing to apply.
    return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.hugectr.updater")
    parser.add_argument("--config", type=Path, required=True, help="the pipeline config file")
    parser.add_argument("--tier", choices=TIERS, required=True)
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    group = group_of(args.tier, socket.gethostname())
    updater = Updater(tier_of(cfg, args.tier), vec_sizes(cfg))
    consumer = Consumer(consumer_config(from_environment(), group))
    consumer.subscribe([EMBEDDINGS.name])
    print(f"hps updater: tier {args.tier}, group {group}, topic {EMBEDDINGS.name}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    started = time.time()
    run(updater, consumer, stop)
    print(f"hps updater stopped after {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
