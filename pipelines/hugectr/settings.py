"""How the GPU serving hosts run HPS: every setting ps.json and the GPU model's
config.pbtxt are generated from, with its default and the reason for it.

Environments set them in the Ansible variable `recstack_hps` (keys are the field names),
which becomes the `hps` section of the pipeline config;
both generated files read them from here, so the values the two files must share
(model name, batch size, cache settings) agree by construction, and
`consistency.py` checks the generated files themselves before a deploy.
"""

from __future__ import annotations

from dataclasses import dataclass

from recstack_config import ConfigError, at_least, between, one_of

# The Triton backend: "hps" (the 24.06 image: HPS looks the embeddings up, a separate
# dense model scores) or "hugectr" (the 23.08 image, the last with the backend that runs
# the whole DLRM; it cannot speak TLS to Redis).
BACKENDS = ("hps", "hugectr")
# Connections per Redis cluster node. The 23.08 backend does not read the key and
# always uses 5 (HPS's default), so the kit fixes it for both.
NUM_NODE_CONNECTIONS = 5
# The GPUs a serving host runs the model on: ps.json's deployed_device_list and the
# model's instance group. The fleet's instance types have one GPU each.
GPUS = (0,)


@dataclass(frozen=True)
class HpsSettings:
    backend: str = "hps"
    # Redis hashes per table. Keys never move between partitions, so this must not
    # change once a table is loaded; at least NUM_NODE_CONNECTIONS (HPS aborts otherwise).
    num_partitions: int = 8
    # Candidate rows per GPU lookup: the retrieval stage's 200 candidates for each of 20
    # users of a dynamic batch, rounded up to a power of two.
    max_batch_size: int = 4096
    # The GPU embedding cache and the share of each table it holds.
    gpucache: bool = True
    gpucacheper: float = 0.5
    # Above 1, every cache miss is looked up before answering. At or below 1, HPS answers
    # a batch whose hit rate reaches the threshold with default vectors for its misses
    # and fills the cache afterwards: wrong scores, silently.
    hit_rate_threshold: float = 1.1
    # Model instances per GPU.
    instances: int = 1
    # HPS's worker buffers: with fewer than two per instance, lookups busy-wait
    # ("memory pool is empty") under concurrency.
    worker_buffers: int = 2
    refresher_buffers: int = 1
    # Seconds between refreshes of the GPU cache from Redis (whole seconds: HPS reads an
    # int): how soon a streamed update reaches a GPU host's answers (Monolith syncs
    # about every 10 s). A refresh rewrites the cache's share of the table on the GPU.
    refresh_interval_s: int = 10
    # The longest a CPU scoring instance uses a cached vector: a streamed update reaches
    # its answers within this plus the updater's delay, inside the 1 s target. Entries
    # expire one by one, so a popular row costs one Redis read per interval.
    cache_refresh_s: float = 0.5
    # Vectors each CPU scoring instance keeps in memory, about 430 bytes each with 32
    # floats (50,000: about 21 MB per instance). Popular items repeat across requests,
    # so a cache far smaller than the table answers most lookups.
    cache_rows: int = 50_000
    # Seconds a CPU scoring instance leaves Redis alone after it failed, answering from
    # the host's RocksDB meanwhile (a timeout each batch would cost more than that).
    redis_retry_s: float = 5.0
    # On the serving hosts' data volume: the RocksDB tier and the exported model files.
    rocksdb_dir: str = "/var/lib/recstack/hps/rocksdb"
    model_dir: str = "/var/lib/recstack/hps/model"

    def validate(self) -> HpsSettings:
        one_of("hps.backend", self.backend, BACKENDS)
        at_least("hps.num_partitions", self.num_partitions, NUM_NODE_CONNECTIONS)
        at_least("hps.max_batch_size", self.max_batch_size, 1)
        between("hps.gpucacheper", self.gpucacheper, 0.0, 1.0)
        at_least("hps.instances", self.instances, 1)
        at_least("hps.refresher_buffers", self.refresher_buffers, 1)
        at_least("hps.refresh_interval_s", self.refresh_interval_s, 0)
        at_least("hps.cache_refresh_s", self.cache_refresh_s, 0.0)
        at_least("hps.cache_rows", self.cache_rows, 0)
        at_least("hps.redis_retry_s", self.redis_retry_s, 0.0)
        if self.worker_buffers < 2 * self.instances:
            raise ConfigError(
                f"hps.worker_buffers ({self.worker_buffers}) must be at least twice "
                f"hps.instances ({self.instances}): with fewer, lookups busy-wait for a "
                "free buffer under load"
            )
        return self
