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
batch, which writes the same rows again. Every status.INTERVAL_S the updater writes its
counts, malformed messages by reason among them, to its status record
(streaming/status.py; `recstack status` shows it), and logs them when they changed.
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
from pathlib import Path

from confluent_kafka import Consumer, Message

from recstack_contract import hps
from recstack_contract.kafka import (
    EMBEDDINGS,
    HPS_VOLATILE_GROUP,
    from_environment,
    hps_persistent_group,
)

from ..artifacts import load_latest
from ..config import PipelineConfig, load_config
from ..online import redis_connection
from ..serving import keys
from ..serving.hps_redis import RedisTier
from ..serving.hps_rocksdb import RocksDbWriter
from ..serving.hps_updater import Tier, Updater
from ..serving.hugectr_files import ExportedTable
from ..streaming import status
from ..streaming.kafka_client import commit_applied, consume_until, consumer_config
from .export import files_in

TIERS = ("volatile", "persistent")
BATCH_MAX = 1000
# The status fields the log repeats, when they changed (with skipped:<reason>).
LOGGED = ("messages", "rows", "skipped")


def group_of(tier: str, hostname: str) -> str:
    return HPS_VOLATILE_GROUP if tier == "volatile" else hps_persistent_group(hostname)


def vec_sizes(cfg: PipelineConfig) -> dict[str, int]:
    """The tables the tiers serve, by tag: the published ranker's one table."""
    network = files_in(load_latest(cfg.paths.artifacts_dir).path).network
    return {hps.table_tag(): ExportedTable.read(network).vec_size}


def tier_of(cfg: PipelineConfig, tier: str) -> Tier:
    if tier == "volatile":
        return RedisTier(redis_connection(), cfg.hps.num_partitions)
    return RocksDbWriter(Path(cfg.hps.rocksdb_dir))


def counts(updater: Updater, tier: str, group: str) -> dict[str, object]:
    """The updater's part of its status record."""
    fields: dict[str, object] = {
        "tier": tier,
        "group": group,
        "messages": updater.counts.messages,
        "rows": updater.counts.rows,
        "skipped": sum(updater.counts.skipped.values()),
    }
    fields.update({f"skipped:{r}": n for r, n in updater.counts.skipped.items()})
    return fields


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
    name = status.host_name()
    record = keys.hps_updater(cfg.serving.key_prefix, args.tier, name)
    reporter = status.Reporter(redis_connection(), record, name, LOGGED)
    print(f"hps updater {name}: tier {args.tier}, group {group}, topic {EMBEDDINGS.name}")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def handle(messages: list[Message]) -> None:
        updater.apply((m.topic(), m.key(), m.value()) for m in messages)
        commit_applied(consumer, messages)

    report = (status.INTERVAL_S, lambda: reporter(counts(updater, args.tier, group)))
    consume_until(stop, consumer, handle, BATCH_MAX, report)


if __name__ == "__main__":
    main()
