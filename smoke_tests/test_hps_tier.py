"""HPS's Redis tier holds the deployed ranker's embedding table in HPS's own layout, so a
GPU host's HPS and the kit's CPU stage read the same bytes."""

from __future__ import annotations

import numpy as np
import redis

from pipelines.serving import keys
from pipelines.serving.hps_layout import KEY_DTYPE, VALUE_DTYPE, partition_of, value_hash
from recstack.endpoints import Endpoints
from recstack_contract import hps

SAMPLE = 20


def test_the_rankers_table_is_in_hps_layout(
    where: Endpoints, redis_client: redis.Redis, deployed_model: dict[str, str]
) -> None:
    name = keys.hps_table(where.key_prefix)
    record = {k.decode(): v.decode() for k, v in redis_client.hgetall(name).items()}
    assert record, f"hps: no {name} hash — the hps step never ran; check `recstack up`'s output"
    assert record["model_version"] == deployed_model["version"], (
        f"hps: the Redis tier holds {record['model_version']}, but {deployed_model['version']} "
        "is deployed → rerun the hps step (`recstack up`)"
    )
    tag, partitions = record["table"], int(record["partitions"])
    assert tag == hps.table_tag()
    value_bytes = int(record["vec_size"]) * VALUE_DTYPE.itemsize
    lengths = [redis_client.hlen(value_hash(tag, p)) for p in range(partitions)]
    assert sum(lengths) == int(record["rows"]), (
        f"hps: the partitions of {tag} hold {sum(lengths)} rows, not {record['rows']} → keys "
        "were evicted or written with another partitioning"
    )
    for partition in (p for p, length in enumerate(lengths) if length):
        sample = redis_client.hrandfield(value_hash(tag, partition), SAMPLE, withvalues=True)
        fields, values = sample[0::2], sample[1::2]
        assert {len(f) for f in fields} == {KEY_DTYPE.itemsize}
        assert {len(v) for v in values} == {value_bytes}
        keys_found = np.frombuffer(b"".join(fields), KEY_DTYPE)
        assert (partition_of(keys_found, partitions) == partition).all(), (
            f"hps: {value_hash(tag, partition)} holds keys of other partitions → the table was "
            "loaded with another num_partitions; HPS would miss them"
        )
