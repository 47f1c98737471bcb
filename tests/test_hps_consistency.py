"""ps.json and the GPU model's config.pbtxt as generated, and every consistency rule
with a configuration that breaks it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from pipelines.config import from_mapping
from pipelines.hugectr.consistency import RULES, HpsDeployment, check, file_problems
from pipelines.hugectr.export import write_inference_model
from pipelines.hugectr.network import ServedShape
from pipelines.hugectr.ps_json import PASSWORD_REFERENCE, ps_json, ps_model
from pipelines.hugectr.settings import HpsSettings
from pipelines.hugectr.triton_config import model_config
from pipelines.serving.hugectr_files import InferenceFiles
from pipelines.train.dlrm import DLRM
from recstack_config import ConfigError
from recstack_contract import hps
from recstack_contract.kafka import KafkaEndpoint
from recstack_contract.redis import RedisConnection

REDIS = RedisConnection(hosts=("10.0.2.11", "10.0.2.12"), port=6379, cluster=True, user="recstack")
KAFKA = KafkaEndpoint(bootstrap="10.0.3.11:9092,10.0.3.12:9092")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> InferenceFiles:
    return write_inference_model(DLRM([50, 7, 3], 4, 8), tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def network(exported: InferenceFiles) -> dict[str, Any]:
    return json.loads(exported.network.read_text())


def deployment(
    backend: str,
    network: dict[str, Any],
    settings: HpsSettings | None = None,
    ps_edit: Callable[[dict[str, Any]], None] = lambda ps: None,
    pbtxt_edit: Callable[[str], str] = lambda text: text,
    **facts: Any,
) -> HpsDeployment:
    settings = settings or HpsSettings(backend=backend)
    shape = ServedShape.of(network)
    ps = ps_json(settings, facts.pop("redis", REDIS), facts.pop("kafka", KAFKA), shape)
    ps_edit(ps)
    pbtxt = pbtxt_edit(model_config(settings, shape))
    return HpsDeployment.parse(
        backend,
        json.dumps(ps),
        pbtxt,
        redis=facts.pop("redis_facts", REDIS),
        kafka=facts.pop("kafka_facts", KAFKA),
        gpu_serving=facts.pop("gpu_serving", True),
        broker_message_max_bytes=facts.pop("broker_message_max_bytes", 8 * 1024 * 1024),
    )


@pytest.mark.parametrize("backend", ["hps", "hugectr"])
def test_generated_files_pass_every_rule(
    backend: str, network: dict[str, Any], exported: InferenceFiles
) -> None:
    assert check(deployment(backend, network)) == []
    model = ps_model(HpsSettings(backend=backend), ServedShape.of(network))
    assert file_problems(model, exported) == []


def test_ps_json_holds_the_deployments_settings_and_no_secret(network: dict[str, Any]) -> None:
    settings = HpsSettings(model_dir="/data/hps/model", rocksdb_dir="/data/hps/rocksdb")
    ps = ps_json(settings, REDIS, KAFKA, ServedShape.of(network))
    volatile = ps["volatile_db"]
    assert volatile["address"] == "10.0.2.11:6379,10.0.2.12:6379"
    assert volatile["user_name"] == "recstack"
    assert volatile["password"] == PASSWORD_REFERENCE == "${redis_password}"
    assert volatile["num_partitions"] == settings.num_partitions
    assert ps["persistent_db"] == {
        "type": "rocks_db",
        "path": "/data/hps/rocksdb",
        "read_only": False,
        "update_filters": ["ranker"],
    }
    (model,) = ps["models"]
    assert model["model"] == hps.MODEL and model["embedding_table_names"] == [hps.TABLE]
    assert model["sparse_files"] == ["/data/hps/model/ranker0_sparse_0.model"]
    assert model["dense_file"] == "/data/hps/model/ranker_dense_0.model"
    assert model["embedding_vecsize_per_table"] == [8]
    assert model["maxnum_catfeature_query_per_table_per_sample"] == [3]
    assert model["maxnum_des_feature_per_sample"] == 4
    assert ps["update_source"]["brokers"] == KAFKA.bootstrap
    # HPS's subscription pattern for the filter matches the table's topic, and only its model's.
    pattern = re.compile("^^hps_et\\." + volatile["update_filters"][0] + "\\..+$")
    assert pattern.search(hps.table_tag()) and not pattern.search("hps_et.rankers.t")
    tls_redis = RedisConnection(("r1",), 6380, True, True, "/ca.pem")
    tls = ps_json(settings, tls_redis, KAFKA, ServedShape.of(network))
    assert tls["volatile_db"]["tls_ca_certificate"] == "/ca.pem"
    # Their defaults name files no host has.
    assert tls["volatile_db"]["tls_client_certificate"] == ""
    assert tls["volatile_db"]["tls_client_key"] == ""
    msk = KafkaEndpoint(bootstrap="b-1:9098", auth="iam", tls=True, region="eu-west-1")
    assert "update_source" not in ps_json(settings, REDIS, msk, ServedShape.of(network))


@pytest.mark.parametrize("backend", ["hps", "hugectr"])
def test_model_config_parses_with_tritons_schema(backend: str, network: dict[str, Any]) -> None:
    text = model_config(HpsSettings(backend=backend), ServedShape.of(network))
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    assert config.name == hps.MODEL and config.backend == backend
    names = [i.name for i in config.input]
    assert names == (["KEYS", "NUMKEYS"] if backend == "hps" else ["DES", "CATCOLUMN", "ROWINDEX"])
    assert all(list(i.dims) == [-1] for i in config.input)
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    if backend == "hugectr":
        assert config.parameters["config"].string_value == "/var/lib/recstack/hps/model/ranker.json"
        assert config.parameters["slots"].string_value == "3"
        assert config.parameters["des_feature_num"].string_value == "4"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(ps: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = ps
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value

    return edit


def _param(key: str, value: str) -> Callable[[str], str]:
    return lambda text: re.sub(
        f'(key: "{key}" value: {{ string_value: )"[^"]*"', f'\\1"{value}"', text
    )


# Each: the backend, edits to the generated deployment, and the file and key the
# problem must name.
BREAKS = [
    pytest.param(
        "hps",
        {"pbtxt_edit": lambda t: t.replace('name: "ranker"', 'name: "scoring"', 1)},
        "config.pbtxt",
        "name",
        id="model name",
    ),
    pytest.param(
        "hps",
        {"ps_edit": _set("models.0.embedding_table_names", ["emb/0"])},
        "ps.json",
        "models[0].embedding_table_names",
        id="name regex",
    ),
    pytest.param(
        "hugectr",
        {"pbtxt_edit": lambda t: t.replace("max_batch_size: 4096", "max_batch_size: 2048")},
        "config.pbtxt",
        "max_batch_size",
        id="batch equal",
    ),
    pytest.param(
        "hugectr",
        {"pbtxt_edit": _param("gpucache", "false")},
        "config.pbtxt",
        "parameters.gpucache",
        id="gpucache",
    ),
    pytest.param(
        "hugectr",
        {"pbtxt_edit": _param("gpucacheper", "0.9")},
        "config.pbtxt",
        "parameters.gpucacheper",
        id="gpucacheper",
    ),
    pytest.param(
        "hugectr",
        {"pbtxt_edit": _param("hit_rate_threshold", "2.0")},
        "config.pbtxt",
        "parameters.hit_rate_threshold",
        id="hit rate",
    ),
    pytest.param(
        "hps",
        {"settings": HpsSettings(hit_rate_threshold=0.9)},
        "ps.json",
        "models[0].hit_rate_threshold",
        id="exact answers",
    ),
    pytest.param(
        "hps",
        {"ps_edit": _set("supportlonglong", False)},
        "ps.json",
        "supportlonglong",
        id="supportlonglong",
    ),
    pytest.param(
        "hugectr",
        {
            "pbtxt_edit": lambda t: t.replace(
                '"CATCOLUMN" data_type: TYPE_INT64', '"CATCOLUMN" data_type: TYPE_UINT32'
            )
        },
        "config.pbtxt",
        "input.CATCOLUMN",
        id="key dtype",
    ),
    pytest.param(
        "hugectr",
        {"pbtxt_edit": _param("embeddingkey_long_type", "false")},
        "config.pbtxt",
        "parameters.embeddingkey_long_type",
        id="long keys",
    ),
    pytest.param(
        "hps",
        {"ps_edit": _set("volatile_db.num_partitions", 4)},
        "ps.json",
        "volatile_db.num_partitions",
        id="partitions",
    ),
    pytest.param(
        "hps",
        {"ps_edit": _set("models.0.num_of_worker_buffer_in_pool", 1)},
        "ps.json",
        "models[0].num_of_worker_buffer_in_pool",
        id="worker buffers",
    ),
    pytest.param(
        "hps",
        {"pbtxt_edit": lambda t: t.replace("KIND_GPU", "KIND_CPU")},
        "config.pbtxt",
        "instance_group",
        id="instance kind",
    ),
    pytest.param(
        "hps",
        {"ps_edit": _set("update_source.brokers", "10.0.3.11:9092;10.0.3.12:9092")},
        "ps.json",
        "update_source.brokers",
        id="brokers",
    ),
    pytest.param(
        "hps",
        {"broker_message_max_bytes": 1024 * 1024},
        "ps.json",
        "update_source.receive_buffer_size",
        id="message size",
    ),
    pytest.param(
        "hps",
        {"ps_edit": _set("volatile_db.max_get_batch_size", 10000)},
        "ps.json",
        "volatile_db.max_get_batch_size",
        id="removed key",
    ),
    pytest.param(
        "hps",
        {"ps_edit": _set("persistent_db.update_filters", ["^hps_.+$"])},
        "ps.json",
        "persistent_db.update_filters",
        id="filters",
    ),
    pytest.param(
        "hugectr",
        {"redis_facts": RedisConnection(("r1",), 6380, True, True)},
        "ps.json",
        "volatile_db.enable_tls",
        id="tls on 23.08",
    ),
    pytest.param(
        "hps",
        {"redis_facts": RedisConnection(("r1",), 6379, False)},
        "ps.json",
        "volatile_db.type",
        id="no cluster",
    ),
    pytest.param(
        "hps",
        {"kafka_facts": KafkaEndpoint("b-1:9098", auth="iam", tls=True, region="eu-west-1")},
        "ps.json",
        "update_source",
        id="msk consumer",
    ),
    pytest.param(
        "hps",
        {"ps_edit": _set("models.0.embedding_vecsize_per_table", [8, 8])},
        "ps.json",
        "models[0].embedding_vecsize_per_table",
        id="table count",
    ),
    pytest.param(
        "hugectr",
        {"ps_edit": lambda ps: ps["models"][0].pop("network_file")},
        "ps.json",
        "models[0].network_file",
        id="mandatory key",
    ),
    pytest.param(
        "hugectr",
        {"ps_edit": lambda ps: ps["models"][0].pop("hit_rate_threshold")},
        "ps.json",
        "models[0].hit_rate_threshold",
        id="mandatory with gpucache",
    ),
    pytest.param(
        "hps",
        {"pbtxt_edit": lambda t: t.replace("gpus: [ 0 ]", "gpus: [ 1 ]")},
        "config.pbtxt",
        "instance_group.gpus",
        id="devices",
    ),
    pytest.param(
        "hps",
        {"ps_edit": _set("persistent_db.read_only", True)},
        "ps.json",
        "persistent_db.read_only",
        id="read-only rocksdb",
    ),
]


@pytest.mark.parametrize(("backend", "edits", "file", "key"), BREAKS)
def test_each_rule_catches_its_break(
    backend: str, edits: dict[str, Any], file: str, key: str, network: dict[str, Any]
) -> None:
    problems = check(deployment(backend, network, **edits))
    assert (file, key) in [(p.file, p.key) for p in problems], [str(p) for p in problems]


def test_exported_files_that_hps_would_misread_are_caught(
    network: dict[str, Any], exported: InferenceFiles, tmp_path: Path
) -> None:
    model = ps_model(HpsSettings(), ServedShape.of(network))
    copy = InferenceFiles.under(tmp_path, hps.MODEL)
    copy.sparse[0].mkdir()
    for source, target in (
        (exported.network, copy.network),
        (exported.dense, copy.dense),
        *((exported.sparse[0] / n, copy.sparse[0] / n) for n in ("key", "emb_vector")),
    ):
        target.write_bytes(source.read_bytes())
    assert file_problems(model, copy) == []
    copy.dense.write_bytes(exported.dense.read_bytes()[:-8])
    assert [p.key for p in file_problems(model, copy)] == ["models[0].dense_file"]
    copy.dense.write_bytes(exported.dense.read_bytes())
    wrong_size = {**model, "embedding_vecsize_per_table": [4]}
    assert [p.key for p in file_problems(wrong_size, copy)] == [
        "models[0].embedding_vecsize_per_table[0]"
    ]
    copy.network.write_text("{")
    assert [p.key for p in file_problems(model, copy)] == ["models[0].network_file"]


def test_every_rule_has_a_break_of_its_own(network: dict[str, Any]) -> None:
    caught = set()
    for case in BREAKS:
        backend, edits, file, key = case.values
        broken = deployment(backend, network, **edits)
        caught |= {
            rule.__name__
            for rule in RULES
            if (file, key) in [(p.file, p.key) for p in rule(broken)]
        }
    assert caught == {rule.__name__ for rule in RULES}


def settings_from(raw: dict[str, Any] | None) -> HpsSettings:
    return from_mapping({"hps": raw or {}}).validate().hps


def test_settings_refuse_values_hps_would_abort_or_stall_on() -> None:
    with pytest.raises(ConfigError, match=r"hps\.num_partitions"):
        settings_from({"num_partitions": 3})
    with pytest.raises(ConfigError, match=r"hps\.worker_buffers .* twice"):
        settings_from({"instances": 2, "worker_buffers": 3})
    with pytest.raises(ConfigError, match=r"hps\.backend"):
        settings_from({"backend": "tensorflow"})
    with pytest.raises(ConfigError, match=r"unknown key hps\.gpu_cache"):
        settings_from({"gpu_cache": True})
    assert settings_from(None) == HpsSettings()
