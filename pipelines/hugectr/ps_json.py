"""ps.json, HPS's parameter-server configuration, from the deployment's settings.

One file serves both backends: each parses the keys it knows and ignores the rest
(the 23.08 `hugectr` backend reads `network_file` and `dense_file`, the 24.06 `hps`
backend `num_node_connections` and the TLS keys). Every value comes from HpsSettings,
the environment's Redis and Kafka endpoints and the model's served shape.

The Redis password is not in the file: `password` holds PASSWORD_REFERENCE, which
whatever installs ps.json on a GPU serving host must replace with the secret's value,
in a file only Triton's user can read (no role does yet: ps.json is generated for the
pre-flight checks). Nothing else in ps.json is secret.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from recstack_contract import hps
from recstack_contract.kafka import HPS_RECEIVE_BUFFER_BYTES, KafkaEndpoint
from recstack_contract.redis import RedisConnection
from recstack_contract.secrets import REDIS_PASSWORD

from ..serving.hugectr_files import InferenceFiles
from .network import DEFAULT_VALUE, LABEL_DIM, ServedShape
from .settings import GPUS, NUM_NODE_CONNECTIONS, HpsSettings

PASSWORD_REFERENCE = f"${{{REDIS_PASSWORD.name}}}"
# The only overflow policy whose Redis handling writes no metadata hash (contract §3.6).
OVERFLOW_POLICY = "evict_random"


def update_filters() -> list[str]:
    """HPS subscribes each filter f as ^hps_et\\.f\\..+$: f is a regex of the model name."""
    return [re.escape(hps.MODEL)]


def ps_model(settings: HpsSettings, shape: ServedShape) -> dict[str, Any]:
    """ps.json's entry for the ranker, with paths on the serving host."""
    files = InferenceFiles.under(Path(settings.model_dir), hps.MODEL)
    return {
        "model": hps.MODEL,
        "network_file": str(files.network),
        "dense_file": str(files.dense),
        "sparse_files": [str(folder) for folder in files.sparse],
        "embedding_table_names": [hps.TABLE],
        "embedding_vecsize_per_table": [shape.vec_size],
        "maxnum_catfeature_query_per_table_per_sample": [shape.slots],
        "maxnum_des_feature_per_sample": shape.n_dense,
        "default_value_for_each_table": [DEFAULT_VALUE],
        "deployed_device_list": list(GPUS),
        "max_batch_size": settings.max_batch_size,
        "gpucache": settings.gpucache,
        "gpucacheper": settings.gpucacheper,
        "hit_rate_threshold": settings.hit_rate_threshold,
        "num_of_worker_buffer_in_pool": settings.worker_buffers,
        "num_of_refresher_buffer_in_pool": settings.refresher_buffers,
        "refresh_interval": settings.refresh_interval_s,
        "label_dim": LABEL_DIM,
        "slot_num": shape.slots,
    }


def ps_json(
    settings: HpsSettings, redis: RedisConnection, kafka: KafkaEndpoint, shape: ServedShape
) -> dict[str, Any]:
    volatile: dict[str, Any] = {
        "type": "redis_cluster",
        "address": ",".join(f"{host}:{redis.port}" for host in redis.hosts),
        "user_name": redis.user or "default",
        "password": PASSWORD_REFERENCE,
        "num_partitions": settings.num_partitions,
        "num_node_connections": NUM_NODE_CONNECTIONS,
        "overflow_policy": OVERFLOW_POLICY,
        "update_filters": update_filters(),
        "enable_tls": redis.tls,
    }
    if redis.tls:
        volatile |= {
            "tls_ca_certificate": redis.ca_file,
            "tls_server_name_identification": redis.hosts[0],
            # HPS hands these to its client whatever they are, and their defaults name
            # files (client_cert.pem, client_key.pem) no host has: no client certificate.
            "tls_client_certificate": "",
            "tls_client_key": "",
        }
    ps: dict[str, Any] = {
        "supportlonglong": True,
        "volatile_db": volatile,
        "persistent_db": {
            "type": "rocks_db",
            "path": settings.rocksdb_dir,
            "read_only": False,
            "update_filters": update_filters(),
        },
        "models": [ps_model(settings, shape)],
    }
    # HPS's consumer takes only a broker list: it cannot authenticate to MSK (IAM or
    # SCRAM over TLS). There the kit's own updater applies the updates to the tiers.
    if kafka.auth == "none":
        ps["update_source"] = {
            "type": "kafka_message_queue",
            "brokers": kafka.bootstrap,
            "receive_buffer_size": HPS_RECEIVE_BUFFER_BYTES,
        }
    return ps
