"""The HPS updater of the Redis tier, on each trainer host: embedding updates from Kafka
in HPS's shared consumer group `hps.volatile`, so that any producer writing HPS's
message format updates what every serving stage reads.

    python -m pipelines.hugectr.updater --config pipeline.yml

The table and its vector size come from the published model, its partitions from the
`hps` settings, Redis from RECSTACK_REDIS_*, the brokers from RECSTACK_KAFKA_*. The
service itself (apply, commit, status record) is serving/hps_updater.serve; each
serving host's RocksDB has its own (serving/hps_rocksdb_updater.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recstack_contract import hps
from recstack_contract.kafka import HPS_VOLATILE_GROUP

from ..artifacts import load_latest
from ..config import load_config
from ..online import redis_connection
from ..serving.hps_redis import RedisTier
from ..serving.hps_updater import Updater, serve
from ..serving.hugectr_files import ExportedTable
from .export import files_in


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.hugectr.updater")
    parser.add_argument("--config", type=Path, required=True, help="the pipeline config file")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    network = files_in(load_latest(cfg.paths.artifacts_dir).path).network
    client = redis_connection()
    updater = Updater(
        RedisTier(client, cfg.hps.num_partitions),
        {hps.table_tag(): ExportedTable.read(network).vec_size},
    )
    serve(updater, "volatile", HPS_VOLATILE_GROUP, cfg.serving.key_prefix, client)


if __name__ == "__main__":
    main()
