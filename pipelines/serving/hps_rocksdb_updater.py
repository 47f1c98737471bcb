"""The HPS updater of this serving host's RocksDB tier, run from the scoring stage's
version directory with the stage's Python (the triton role's service
recstack-hps-rocksdb-updater):

    cd <model repository>/scoring/1 && <stage python> -m recstack_serving.hps_rocksdb_updater

It is the database's only writer, as RocksDB requires (the stages read it as secondary
instances). It first loads the exported table unless that model version is there
(hps_rocksdb.load_exported: what HPS does at startup), then applies the table's topic
in HPS's group `hps.persistent.<hostname>` (hps_updater.serve), so the host's RocksDB
follows every update that Redis gets. The deployment restarts it on a new model
repository and waits for the load before Triton starts:

    <stage python> -m recstack_serving.hps_rocksdb_updater --wait-loaded 300

exits once the database holds this directory's model version (1 if it does not in time).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

from recstack_contract import hps
from recstack_contract.kafka import hps_persistent_group

from . import redis_client
from .hps_rocksdb import RocksDbWriter, is_loaded, load_exported
from .hps_updater import Updater, serve
from .hugectr_files import ExportedTable, InferenceFiles
from .spec import HUGECTR_DIRECTORY, ServingSpec


def wait_loaded(stage_dir: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not is_loaded(stage_dir):
        if time.monotonic() > deadline:
            sys.exit(
                f"this host's RocksDB tier did not load {stage_dir}'s table within "
                f"{timeout_s:g} s: see /var/log/recstack/hps-rocksdb-updater/"
            )
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m recstack_serving.hps_rocksdb_updater")
    parser.add_argument(
        "--wait-loaded",
        type=float,
        metavar="SECONDS",
        help="do not update: wait until the running updater has loaded this model version",
    )
    args = parser.parse_args(argv)
    stage = Path.cwd()
    if args.wait_loaded is not None:
        wait_loaded(stage, args.wait_loaded)
        return
    print(json.dumps(load_exported(stage)), flush=True)
    spec = ServingSpec.read(stage)
    network = InferenceFiles.under(stage / HUGECTR_DIRECTORY, hps.MODEL).network
    updater = Updater(
        RocksDbWriter(Path(spec.hps_rocksdb_dir)),
        {hps.table_tag(): ExportedTable.read(network).vec_size},
    )
    group = hps_persistent_group(socket.gethostname())
    serve(updater, "persistent", group, spec.key_prefix, redis_client.client_from_env())


if __name__ == "__main__":
    main()
