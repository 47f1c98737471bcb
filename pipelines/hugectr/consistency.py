"""The checks a deployment of HPS must pass before any host is changed.

Each rule is a configuration that HugeCTR's backends load wrongly, refuse at startup or
abort on (contract §2, §3, §5, §6, §7); nothing on a GPU host would report most of them
until it serves wrong scores or crashes. A rule reads the files as they would be
deployed (ps.json, and the GPU model's config.pbtxt parsed with Triton's own schema)
and the environment's facts (its Redis and Kafka endpoints, whether GPU hosts run HPS,
the brokers' message.max.bytes where known), and names the file, the key and the fix of
each problem. `file_problems` checks the exported model files against ps.json where
they are written (the `hps` step).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from recstack_contract import hps
from recstack_contract.kafka import KafkaEndpoint
from recstack_contract.redis import RedisConnection

from ..serving.hugectr_files import InferenceFiles, ModelFileError, SparseTable, read_dense
from .network import NetworkError, dense_floats
from .settings import NUM_NODE_CONNECTIONS

PS_FILE = "ps.json"
MODEL_CONFIG_FILE = "config.pbtxt"
# What HugeCTR assumes for a key ps.json leaves out (inference_utils.cpp, hugectr.cc).
DEFAULTS: dict[str, Any] = {
    "max_batch_size": 64,
    "gpucache": True,
    "gpucacheper": 0.2,
    "hit_rate_threshold": 0.9,
    "num_partitions": 16,
    "num_of_worker_buffer_in_pool": 1,
    "receive_buffer_size": 262144,
    "update_filters": ["^hps_.+$"],
}
# Keys HugeCTR removed in 23.02 (now max_batch_size): still set, they are silently ignored.
REMOVED_KEYS = ("max_get_batch_size", "max_set_batch_size", "refresh_time_after_fetch")
# Keys without which each backend refuses ps.json (23.08 hugectr.cc, HugeCTR's parser).
MANDATORY_MODEL_KEYS = {
    "hps": (
        "sparse_files",
        "deployed_device_list",
        "maxnum_catfeature_query_per_table_per_sample",
        "embedding_vecsize_per_table",
        "default_value_for_each_table",
    ),
    "hugectr": (
        "model",
        "network_file",
        "max_batch_size",
        "dense_file",
        "sparse_files",
        "deployed_device_list",
        "maxnum_catfeature_query_per_table_per_sample",
        "embedding_vecsize_per_table",
        "default_value_for_each_table",
    ),
}
# The model input that carries the keys, per backend.
_KEY_INPUT = {"hugectr": "CATCOLUMN", "hps": "KEYS"}
_REDIS_TYPES = ("redis_cluster", "redis")


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    message: str  # what is wrong, then the fix

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}"


@dataclass(frozen=True)
class HpsDeployment:
    backend: str
    ps: dict[str, Any]
    model_config: model_config_pb2.ModelConfig
    redis: RedisConnection
    kafka: KafkaEndpoint
    # Whether GPU hosts run HPS here (elsewhere the CPU stage reads the tiers itself).
    gpu_serving: bool
    # The brokers' message.max.bytes; None where the kit knows no limit (its local broker).
    broker_message_max_bytes: int | None = None

    @classmethod
    def parse(cls, backend: str, ps_text: str, pbtxt: str, **facts: Any) -> HpsDeployment:
        config = text_format.Parse(pbtxt, model_config_pb2.ModelConfig())
        return cls(backend, json.loads(ps_text), config, **facts)

    @property
    def model(self) -> dict[str, Any]:
        models = self.ps.get("models") or [{}]
        return models[0]

    def setting(self, key: str) -> Any:
        return self.model.get(key, DEFAULTS.get(key))

    def parameter(self, key: str) -> str | None:
        if key not in self.model_config.parameters:
            return None
        return self.model_config.parameters[key].string_value


Rule = Callable[[HpsDeployment], Iterator[Problem]]


def mandatory_keys_present(d: HpsDeployment) -> Iterator[Problem]:
    if "supportlonglong" not in d.ps:
        yield Problem(PS_FILE, "supportlonglong", "missing, and HPS refuses ps.json: set true")
    if not d.ps.get("models"):
        yield Problem(PS_FILE, "models", "no model: HPS aborts; describe the ranker's model")
        return
    required = list(MANDATORY_MODEL_KEYS[d.backend])
    if d.backend == "hugectr" and d.setting("gpucache"):
        required += ["gpucacheper", "hit_rate_threshold"]
    for key in required:
        if key not in d.model:
            yield Problem(
                PS_FILE,
                f"models[0].{key}",
                f"missing, and the {d.backend} backend refuses the model without it: set it",
            )


def model_name_matches(d: HpsDeployment) -> Iterator[Problem]:
    if d.model_config.name != d.model.get("model"):
        yield Problem(
            MODEL_CONFIG_FILE,
            "name",
            f"{d.model_config.name!r} is not ps.json's model {d.model.get('model')!r}: HPS finds "
            "a model's tables by this name; give both the same name",
        )


def names_are_valid(d: HpsDeployment) -> Iterator[Problem]:
    for key, name in [
        ("model", d.model.get("model", "")),
        *(("embedding_table_names", t) for t in d.model.get("embedding_table_names", [])),
    ]:
        if not hps.NAME_PATTERN.fullmatch(str(name)):
            yield Problem(
                PS_FILE,
                f"models[0].{key}",
                f"{name!r} does not match {hps.NAME_PATTERN.pattern} and HPS aborts on it; "
                "use letters, digits, '_' and '-' only",
            )


def batch_sizes_agree(d: HpsDeployment) -> Iterator[Problem]:
    # Only the hugectr backend compares them; the hps backend counts requests in
    # config.pbtxt and samples in ps.json.
    ps_batch = d.setting("max_batch_size")
    if d.backend == "hugectr" and d.model_config.max_batch_size != ps_batch:
        yield Problem(
            MODEL_CONFIG_FILE,
            "max_batch_size",
            f"{d.model_config.max_batch_size} differs from ps.json's {ps_batch}; the hugectr "
            "backend refuses the model: set both to the same value",
        )


def cache_settings_agree(d: HpsDeployment) -> Iterator[Problem]:
    """The hugectr backend takes a parameter config.pbtxt leaves out from ps.json, and
    refuses one that contradicts it."""
    if d.backend != "hugectr":
        return
    ps_cache = bool(d.setting("gpucache"))
    pb_cache = d.parameter("gpucache")
    if pb_cache is not None and (pb_cache.lower() == "true") != ps_cache:
        yield Problem(
            MODEL_CONFIG_FILE,
            "parameters.gpucache",
            f"{pb_cache!r} is not ps.json's gpucache {ps_cache}: set both alike",
        )
    for key in ("gpucacheper", "hit_rate_threshold"):
        value, limit = d.parameter(key), float(d.setting(key))
        if value is not None and float(value) > limit:
            yield Problem(
                MODEL_CONFIG_FILE,
                f"parameters.{key}",
                f"{value} is greater than ps.json's {limit}; the backend refuses the model: "
                "lower it, or raise ps.json's",
            )


def exact_answers(d: HpsDeployment) -> Iterator[Problem]:
    threshold = float(d.setting("hit_rate_threshold"))
    if d.setting("gpucache") and threshold <= 1.0:
        yield Problem(
            PS_FILE,
            "models[0].hit_rate_threshold",
            f"{threshold}: a batch whose cache hit rate reaches it is answered with default "
            "vectors for its misses (wrong scores); set it above 1",
        )


def key_types_agree(d: HpsDeployment) -> Iterator[Problem]:
    if d.ps.get("supportlonglong") is False:
        yield Problem(
            PS_FILE,
            "supportlonglong",
            "false: the kit's keys are int64 (and the hps backend creates no parameter server "
            "without it); set it to true",
        )
    name = _KEY_INPUT[d.backend]
    key_input = next((i for i in d.model_config.input if i.name == name), None)
    if key_input is None or key_input.data_type != model_config_pb2.TYPE_INT64:
        found = (
            "missing" if key_input is None else model_config_pb2.DataType.Name(key_input.data_type)
        )
        effect = (
            "the hugectr backend copies the bytes as they come, so 32-bit keys are misread "
            "without an error"
            if d.backend == "hugectr"
            else "the hps backend refuses the model"
        )
        yield Problem(
            MODEL_CONFIG_FILE, f"input.{name}", f"{found}: {effect}; declare it TYPE_INT64"
        )
    if d.backend == "hugectr" and d.parameter("embeddingkey_long_type") != "true":
        yield Problem(
            MODEL_CONFIG_FILE,
            "parameters.embeddingkey_long_type",
            f'{d.parameter("embeddingkey_long_type")!r}: must be "true" for int64 keys',
        )


def partitions_cover_connections(d: HpsDeployment) -> Iterator[Problem]:
    volatile = d.ps.get("volatile_db", {})
    if volatile.get("type") not in _REDIS_TYPES:
        return  # only the Redis backend checks (and aborts)
    # The 23.08 backend does not read num_node_connections: it always uses 5.
    connections = (
        NUM_NODE_CONNECTIONS
        if d.backend == "hugectr"
        else volatile.get("num_node_connections", NUM_NODE_CONNECTIONS)
    )
    partitions = volatile.get("num_partitions", DEFAULTS["num_partitions"])
    if partitions < connections:
        yield Problem(
            PS_FILE,
            "volatile_db.num_partitions",
            f"{partitions} is fewer than the {connections} connections per node, and HPS "
            "aborts; set at least that many (before the first load: it must not change "
            "afterwards)",
        )


def instances_fit_the_buffers_and_devices(d: HpsDeployment) -> Iterator[Problem]:
    groups = d.model_config.instance_group
    instances = sum(group.count or 1 for group in groups)
    buffers = d.setting("num_of_worker_buffer_in_pool")
    if buffers < 2 * instances:
        yield Problem(
            PS_FILE,
            "models[0].num_of_worker_buffer_in_pool",
            f"{buffers} for {instances} instances: under load lookups busy-wait for a free "
            f'buffer ("memory pool is empty"); set at least {2 * instances}',
        )
    gpu_required = d.backend == "hugectr" or d.setting("gpucache")
    if not groups or (
        gpu_required and any(g.kind != model_config_pb2.ModelInstanceGroup.KIND_GPU for g in groups)
    ):
        yield Problem(
            MODEL_CONFIG_FILE,
            "instance_group",
            "the model needs at least one instance group, of kind KIND_GPU (the GPU cache "
            "and the hugectr backend run on a GPU)",
        )
    devices = set(d.model.get("deployed_device_list", []))
    outside = sorted({gpu for group in groups for gpu in group.gpus} - devices)
    if outside:
        yield Problem(
            MODEL_CONFIG_FILE,
            "instance_group.gpus",
            f"{outside} are not in ps.json's deployed_device_list {sorted(devices)}: the "
            "backend refuses the instance; list the same GPUs in both",
        )


def brokers_are_a_list(d: HpsDeployment) -> Iterator[Problem]:
    brokers = d.ps.get("update_source", {}).get("brokers")
    if brokers is None:
        return
    if not isinstance(brokers, str) or not brokers or ";" in brokers or " " in brokers:
        yield Problem(
            PS_FILE,
            "update_source.brokers",
            f"{brokers!r}: librdkafka takes a comma-separated host:port list (no ';', no spaces)",
        )


def brokers_accept_hps_messages(d: HpsDeployment) -> Iterator[Problem]:
    source = d.ps.get("update_source")
    if source is None or d.broker_message_max_bytes is None:
        return
    buffer = source.get("receive_buffer_size", DEFAULTS["receive_buffer_size"])
    if d.broker_message_max_bytes < buffer + 1024:
        yield Problem(
            PS_FILE,
            "update_source.receive_buffer_size",
            f"{buffer} needs brokers with message.max.bytes of at least {buffer + 1024}, but "
            f"they have {d.broker_message_max_bytes}: lower it, or raise the brokers' limit",
        )


def no_removed_keys(d: HpsDeployment) -> Iterator[Problem]:
    for section in ("volatile_db", "persistent_db"):
        for key in REMOVED_KEYS:
            if key in d.ps.get(section, {}):
                yield Problem(
                    PS_FILE,
                    f"{section}.{key}",
                    "removed in HugeCTR 23.02 and silently ignored since; use max_batch_size",
                )


def update_filters_match_the_tables(d: HpsDeployment) -> Iterator[Problem]:
    """HPS subscribes to ^ + ^hps_et\\.<filter>\\..+$ for each filter (kafka_message.cpp).
    Emulated with Python's regex engine; librdkafka's may differ at the edges."""
    if "update_source" not in d.ps:
        return
    model = str(d.model.get("model", ""))
    topics = [hps.table_tag(model, t) for t in _tables(d)]
    for section in ("volatile_db", "persistent_db"):
        if section not in d.ps:
            continue
        filters = d.ps[section].get("update_filters", DEFAULTS["update_filters"])
        try:
            patterns = [re.compile("^^hps_et\\." + f + "\\..+$") for f in filters]
        except (re.error, TypeError) as error:
            yield Problem(PS_FILE, f"{section}.update_filters", f"{filters}: not a regex ({error})")
            continue
        for topic in topics:
            if not any(p.search(topic) for p in patterns):
                yield Problem(
                    PS_FILE,
                    f"{section}.update_filters",
                    f"{filters} subscribe to no topic of table {topic}, so its updates never "
                    f"arrive; use [{re.escape(model)!r}] (a regex of the model name)",
                )


def backend_can_serve(d: HpsDeployment) -> Iterator[Problem]:
    volatile = d.ps.get("volatile_db", {})
    if d.gpu_serving and volatile.get("type") in _REDIS_TYPES and not d.redis.cluster:
        yield Problem(
            PS_FILE,
            "volatile_db.type",
            "HPS's Redis tier is a cluster client, and this environment's Redis is not a "
            "cluster (Redis Cloud: enable its OSS Cluster API)",
        )
    if d.backend == "hugectr" and d.redis.tls:
        yield Problem(
            PS_FILE,
            "volatile_db.enable_tls",
            "the 23.08 hugectr backend cannot speak TLS to Redis: use backend hps (24.06) or "
            "a Redis without TLS",
        )
    if str(volatile.get("type", "")).startswith("multi_process"):
        yield Problem(PS_FILE, "volatile_db.type", "neither backend accepts multi_process_hash_map")
    if d.ps.get("persistent_db", {}).get("read_only"):
        yield Problem(
            PS_FILE,
            "persistent_db.read_only",
            "true, but HPS inserts every table into RocksDB at startup, which a read-only "
            "database refuses (HPS aborts); set it to false",
        )
    if "update_source" in d.ps and d.kafka.auth != "none":
        yield Problem(
            PS_FILE,
            "update_source",
            f"HPS's consumer cannot authenticate to these brokers (auth {d.kafka.auth}): leave "
            "update_source out; the kit's updater applies the updates",
        )


def table_counts_agree(d: HpsDeployment) -> Iterator[Problem]:
    sparse = d.model.get("sparse_files", [])
    for key in ("embedding_vecsize_per_table", "maxnum_catfeature_query_per_table_per_sample"):
        if key in d.model and len(d.model[key]) != len(sparse):
            yield Problem(
                PS_FILE,
                f"models[0].{key}",
                f"{len(d.model[key])} entries for {len(sparse)} sparse_files: give one per table",
            )
    if "deployed_device_list" in d.model and not d.model["deployed_device_list"]:
        yield Problem(PS_FILE, "models[0].deployed_device_list", "empty: list the GPUs, e.g. [0]")


RULES: tuple[Rule, ...] = (
    mandatory_keys_present,
    model_name_matches,
    names_are_valid,
    batch_sizes_agree,
    cache_settings_agree,
    exact_answers,
    key_types_agree,
    partitions_cover_connections,
    instances_fit_the_buffers_and_devices,
    brokers_are_a_list,
    brokers_accept_hps_messages,
    no_removed_keys,
    update_filters_match_the_tables,
    backend_can_serve,
    table_counts_agree,
)


def check(deployment: HpsDeployment) -> list[Problem]:
    return [problem for rule in RULES for problem in rule(deployment)]


def file_problems(model: dict[str, Any], files: InferenceFiles) -> list[Problem]:
    """ps.json's model entry against the exported files: HPS checks neither the dense
    file's size nor each table's vector size, and misreads both silently."""
    try:
        network = json.loads(files.network.read_text())
        floats = dense_floats(network)
    except (NetworkError, FileNotFoundError, json.JSONDecodeError, KeyError) as error:
        return [Problem(PS_FILE, "models[0].network_file", f"{files.network}: {error}")]
    found = []
    try:
        read_dense(files.dense, floats)
    except ModelFileError as error:
        found.append(Problem(PS_FILE, "models[0].dense_file", str(error)))
    vec_sizes = model.get("embedding_vecsize_per_table", [])
    if len(vec_sizes) != len(files.sparse):
        found.append(
            Problem(
                PS_FILE,
                "models[0].embedding_vecsize_per_table",
                f"{len(vec_sizes)} sizes for {len(files.sparse)} exported tables: one per table",
            )
        )
        return found
    for index, (folder, vec_size) in enumerate(zip(files.sparse, vec_sizes, strict=True)):
        try:
            SparseTable.read(folder, vec_size)
        except ModelFileError as error:
            found.append(
                Problem(PS_FILE, f"models[0].embedding_vecsize_per_table[{index}]", str(error))
            )
    return found


def _tables(d: HpsDeployment) -> list[str]:
    names = d.model.get("embedding_table_names")
    return names or [f"sparse_embedding{i}" for i in range(len(d.model.get("sparse_files", [])))]
