"""Stack config: the committed stacks parse; every invalid value, and every removed key,
fails before any resource is declared, naming the key and the fix."""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest
import yaml
from conftest import PROJECT_ROOT, stack_file

from stack_config import ConfigError, parse, parsing


def _raw(stack: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_committed_stacks_parse() -> None:
    staging, prod = stack_file("staging"), stack_file("prod")
    # Between them the committed stacks use both MSK authentication modes.
    assert (staging.redis.mode, staging.kafka.auth) == ("selfhosted", "scram")
    assert (prod.redis.mode, prod.kafka.auth) == ("elasticache", "iam")
    assert (staging.kafka.brokers, staging.kafka.broker_type) == (2, "kafka.t3.small")
    assert prod.production and not staging.production
    assert prod.network.availability_zones == 3
    assert staging.serving.desired_capacity == 1
    assert staging.tags == {
        "project": "recstack",
        "stack": "staging",
        "owner": "ml-platform",
        "cost-center": "cc-1042",
    }


def _with(stack: str, key: str, path: tuple[str, ...], value: object) -> dict:
    raw = copy.deepcopy(_raw(stack))
    if not path:
        raw[key] = value
        return raw
    node = raw.setdefault(key, {})
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return raw


CASES = [
    ("staging", "aws:region", (), "us-east-9", "aws:region 'us-east-9' is not an AWS region"),
    ("staging", "recstack:tier", (), "dev", "recstack:tier must be one of staging, production"),
    (
        "staging",
        "recstack:costCenter",
        (),
        "cc#1",
        "recstack:costCenter 'cc#1' is not a valid AWS tag value",
    ),
    ("staging", "recstack:bogus", (), 1, "unknown config key recstack:bogus"),
    (
        "staging",
        "recstack:network",
        ("cidrr",),
        "10.0.0.0/16",
        "unknown key recstack:network.cidrr",
    ),
    ("staging", "recstack:network", ("cidr",), "10.48.0.0/12", "between /16 and /24"),
    ("staging", "recstack:network", ("cidr",), "10.60.0.300/16", "is not an IPv4 network"),
    (
        "staging",
        "recstack:network",
        ("availabilityZones",),
        5,
        "recstack:network.availabilityZones must be 1 to 4",
    ),
    ("prod", "recstack:network", ("availabilityZones",), 1, "at least 2 in production"),
    (
        "staging",
        "recstack:network",
        ("clientCidrs",),
        ["0.0.0.0/0"],
        "the kit never opens ingress that wide",
    ),
    ("staging", "recstack:network", ("clientCidrs",), [], "clientCidrs is empty"),
    (
        "staging",
        "recstack:network",
        ("reservedCidrs",),
        ["10.60.128.0/17"],
        "overlaps recstack:network.reservedCidrs[0]",
    ),
    (
        "staging",
        "recstack:serving",
        ("instanceType",),
        "g5.xlarg",
        "'g5.xlarg' is not an EC2 instance type",
    ),
    ("staging", "recstack:serving", ("instanceType",), "m7i.large", "has no supported NVIDIA GPU"),
    ("staging", "recstack:serving", ("maxSize",), 0, "minSize <= desiredCapacity <= maxSize"),
    ("staging", "recstack:serving", ("amiSsmParameter",), "ami-0123456789", "not an AMI id"),
    (
        "staging",
        "recstack:serving",
        ("rootVolumeGb",),
        "big",
        "recstack:serving.rootVolumeGb must be an integer, got 'big'",
    ),
    ("staging", "recstack:redis", ("shards",), 2, "recstack:redis.shards must be at least 3"),
    ("staging", "recstack:redis", ("mode",), "memcached", "recstack:redis.mode must be one of"),
    ("prod", "recstack:redis", ("replicasPerShard",), 0, "at least 1 in production"),
    (
        "prod",
        "recstack:redis",
        ("nodeType",),
        "cache.x9.large",
        "is not a current ElastiCache node type",
    ),
    ("prod", "recstack:redis", ("engineVersion",), "5.0", "must be a Redis 6.x or 7.x version"),
    (
        "staging",
        "recstack:redis",
        ("instanceType",),
        "r7i.huge",
        "'r7i.huge' is not an EC2 instance type",
    ),
    (
        "prod",
        "recstack:kafka",
        ("brokers",),
        4,
        "must be a multiple of recstack:network.availabilityZones",
    ),
    ("prod", "recstack:kafka", ("brokerType",), "kafka.m9.large", "is not an MSK broker type"),
    ("prod", "recstack:kafka", ("auth",), "plaintext", "recstack:kafka.auth must be iam or scram"),
    ("prod", "recstack:kafka", ("messageMaxBytes",), 1024, "or HPS update messages are refused"),
    ("staging", "recstack:kafka", ("volumeGb",), 0, "recstack:kafka.volumeGb must be 1 to 16384"),
    (
        "staging",
        "recstack:storage",
        ("noncurrentVersionDays",),
        0,
        "noncurrentVersionDays must be >= 1; got 0",
    ),
    (
        "staging",
        "recstack:storage",
        ("keepForever",),
        True,
        "unknown key recstack:storage.keepForever",
    ),
    (
        "staging",
        "recstack:network",
        ("publicLoadBalancer",),
        "yes",
        "recstack:network.publicLoadBalancer must be true or false, got 'yes'",
    ),
    (
        "staging",
        "recstack:serving",
        ("dataVolumeGb",),
        5,
        "recstack:serving.dataVolumeGb must be 20 to 16384",
    ),
    (
        "staging",
        "recstack:serving",
        ("rootVolumeGb",),
        40,
        "recstack:serving.rootVolumeGb must be 75 to 16384",
    ),
    (
        "staging",
        "recstack:hosts",
        ("amiSsmParameter",),
        "ami-0abc",
        "recstack:hosts.amiSsmParameter must name a public SSM parameter",
    ),
    (
        "staging",
        "recstack:hosts",
        ("rootVolumeGb",),
        4,
        "recstack:hosts.rootVolumeGb must be 8 to 16384",
    ),
    ("staging", "recstack:trainer", ("count",), 0, "recstack:trainer.count must be >= 1; got 0"),
    (
        "staging",
        "recstack:trainer",
        ("instanceType",),
        "c7i.huge",
        "'c7i.huge' is not an EC2 instance type",
    ),
    (
        "staging",
        "recstack:redis",
        ("replicasPerShard",),
        6,
        "recstack:redis.replicasPerShard must be 0 to 5",
    ),
    (
        "staging",
        "recstack:redis",
        ("dataVolumeGb",),
        5,
        "recstack:redis.dataVolumeGb must be 10 to 16384",
    ),
    (
        "staging",
        "recstack:kafka",
        ("mode",),
        "selfhosted",
        "recstack:kafka.mode 'selfhosted' was removed: AWS stacks run Kafka on MSK only",
    ),
    ("prod", "recstack:kafka", ("mode",), "msk", "delete the key and size MSK with kafka.brokers"),
    (
        "staging",
        "recstack:kafka",
        ("instanceType",),
        "t3.medium",
        "recstack:kafka.instanceType 't3.medium' was removed: AWS stacks run Kafka on MSK only",
    ),
    (
        "prod",
        "recstack:kafka",
        ("hpsReceiveBufferBytes",),
        1024,
        "recstack:kafka.hpsReceiveBufferBytes 1024 was removed: HPS's receive buffer is fixed",
    ),
    ("staging", "recstack:kafka", ("auth",), "none", "recstack:kafka.auth must be iam or scram"),
    ("staging", "recstack:kafka", ("brokers",), 0, "recstack:kafka.brokers must be >= 1; got 0"),
    (
        "prod",
        "recstack:kafka",
        ("kafkaVersion",),
        "three",
        "recstack:kafka.kafkaVersion must look like 3.6.0",
    ),
    (
        "staging",
        "recstack:network",
        ("clientCidrs",),
        ["0.0.0.0/1"],
        "the kit never opens ingress that wide",
    ),
    ("staging", "recstack:serving", ("instanceType",), "p3.2xlarge", "has no supported NVIDIA GPU"),
    (
        "staging",
        "recstack:serving",
        ("dataVolumeGb",),
        20000,
        "recstack:serving.dataVolumeGb must be 20 to 16384",
    ),
    ("staging", "recstack:trainer", ("instanceType",), "c7g.xlarge", "is an Arm (Graviton) type"),
    ("staging", "recstack:redis", ("instanceType",), "r7g.large", "is an Arm (Graviton) type"),
    (
        "prod",
        "recstack:redis",
        ("nodeType",),
        "cache.r7g.huge",
        "is not a current ElastiCache node type",
    ),
    ("prod", "recstack:redis", ("shards",), 501, "can be at most 500 on ElastiCache"),
    ("prod", "recstack:kafka", ("brokerType",), "kafka.t3.large", "is not an MSK broker type"),
]


@pytest.mark.parametrize(("stack", "key", "path", "value", "message"), CASES)
def test_invalid_values_name_the_key_and_the_fix(
    stack: str, key: str, path: tuple[str, ...], value: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(_with(stack, key, path, value), "recstack", stack)


def test_msk_needs_two_or_three_azs() -> None:
    raw = _with("staging", "recstack:network", ("availabilityZones",), 1)
    with pytest.raises(ConfigError, match=re.escape("MSK needs its brokers in 2 or 3 AZs")):
        parse(raw, "recstack", "staging")


def test_redis_cloud_range_must_not_overlap_the_vpc() -> None:
    raw = _with("staging", "recstack:redis", ("mode",), "redis_cloud")
    raw["recstack:redis"]["redisCloud"] = {"deploymentCidr": "10.60.5.0/24"}
    message = "deploymentCidr 10.60.5.0/24 overlaps recstack:network.cidr"
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(raw, "recstack", "staging")


def test_redis_cloud_range_must_be_a_24() -> None:
    raw = _with("staging", "recstack:redis", ("mode",), "redis_cloud")
    raw["recstack:redis"]["redisCloud"] = {"deploymentCidr": "10.250.0.0/23"}
    with pytest.raises(ConfigError, match="must be a /24"):
        parse(raw, "recstack", "staging")


def test_redis_cloud_needs_memory() -> None:
    raw = _with("staging", "recstack:redis", ("mode",), "redis_cloud")
    raw["recstack:redis"]["redisCloud"] = {"memoryLimitGb": 0}
    with pytest.raises(ConfigError, match="memoryLimitGb must be positive"):
        parse(raw, "recstack", "staging")


def test_a_missing_region_says_how_to_set_it() -> None:
    raw = _raw("staging")
    del raw["aws:region"]
    with pytest.raises(ConfigError, match="pulumi config set aws:region"):
        parse(raw, "recstack", "staging")


def test_a_missing_required_key_says_where_to_set_it() -> None:
    raw = _raw("staging")
    del raw["recstack:owner"]
    with pytest.raises(
        ConfigError, match=r"recstack:owner is required; set it in Pulumi.staging.yaml"
    ):
        parse(raw, "recstack", "staging")


@pytest.mark.parametrize("stack", ["Staging_EU", "production", "a--b"])
def test_stack_names_that_make_invalid_aws_names_are_refused(stack: str) -> None:
    with pytest.raises(ConfigError, match="rename the stack"):
        parse(_raw("staging"), "recstack", stack)


def test_secrets_are_not_parsed_into_the_config() -> None:
    raw = _raw("prod")
    raw["recstack:redisAuthToken"] = {"secure": "v1:abc"}
    assert parse(raw, "recstack", "prod").redis.mode == "elasticache"


def _keys(prefix: str, cls: type) -> list[str]:
    """Every config key of a section, nested objects (redis.redisCloud) included."""
    keys = []
    for field in dataclasses.fields(cls):
        key = f"{prefix}.{parsing.snake_to_camel(field.name)}"
        keys.append(key)
        if dataclasses.is_dataclass(field.default_factory):
            keys.extend(_keys(key, field.default_factory))
    return keys


def test_every_config_key_is_documented() -> None:
    readme = (PROJECT_ROOT / "stacks" / "README.md").read_text()
    keys = [*parsing.SCALARS, *parsing.SECRET_KEYS]
    for section, cls in parsing.SECTIONS.items():
        keys.extend(_keys(section, cls))
    assert "redis.redisCloud.deploymentCidr" in keys
    for key in keys:
        assert f"`{key}`" in readme, f"stacks/README.md does not document recstack:{key}"


def test_removed_keys_are_no_config_keys() -> None:
    """A removed key is refused, never silently taken as a field of the same name."""
    for removed in parsing.REMOVED_KEYS:
        section, _, key = removed.removeprefix(f"{parsing.NAMESPACE}:").partition(".")
        fields = dataclasses.fields(parsing.SECTIONS[section])
        assert key not in {parsing.snake_to_camel(f.name) for f in fields}, removed
