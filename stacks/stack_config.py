"""The stack's configuration: parsed once, typed, and validated before anything is declared.

Keys live in Pulumi.<stack>.yaml under the `recstack:` namespace (objects with camelCase
keys) plus `aws:region`; stacks/README.md documents each one. Every error names the key
and what to change, and the whole config is checked before the program declares a single
resource, so a mistake never costs a half-created stack.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import aws_catalog

NAMESPACE = "recstack"
TIERS = ("staging", "production")
REDIS_MODES = ("selfhosted", "elasticache", "redis_cloud")
KAFKA_MODES = ("msk", "selfhosted")
MAX_AZS = 4  # the VPC is cut into 8 equal blocks: one private and one public per AZ
# Target groups are auto-named within 32 characters (name, '-', 7 random characters), and
# the longest is "<prefix>-http"/"<prefix>-grpc": the prefix gets 17 of them.
MAX_PREFIX = 17
MAX_GP3_GB = 16384
# Narrower client networks than this are refused as good as world-open.
MIN_CLIENT_PREFIX = 8
# Interface endpoints for SSM Session Manager: hosts have no SSH and no public address.
SSM_ENDPOINT_SERVICES = ("ssm", "ssmmessages", "ec2messages")


class ConfigError(ValueError):
    """A stack config value is missing, unknown or not something AWS accepts."""


@dataclass(frozen=True)
class NetworkConfig:
    cidr: str = "10.60.0.0/16"
    availability_zones: int = 3
    # One NAT gateway per AZ keeps egress up when an AZ fails; one in all is cheaper.
    nat_gateway_per_az: bool = False
    # Networks allowed to reach Triton (through the load balancer). Never 0.0.0.0/0.
    client_cidrs: tuple[str, ...] = ("10.0.0.0/8",)
    public_load_balancer: bool = False
    # Networks this VPC must not overlap: peered VPCs, on-premises ranges.
    reserved_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServingConfig:
    instance_type: str = "g5.xlarge"
    min_size: int = 1
    max_size: int = 1
    desired_capacity: int = 1
    # The group scales between minSize and maxSize to keep average CPU near this.
    target_cpu_percent: float = 60.0
    root_volume_gb: int = 100
    # Model repository and the HPS RocksDB tier.
    data_volume_gb: int = 200
    # Public SSM parameter naming the current Deep Learning Base GPU AMI.
    ami_ssm_parameter: str = (
        "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
    )


@dataclass(frozen=True)
class HostsConfig:
    """The self-managed hosts (trainer, self-hosted Redis and Kafka): Debian 12, like CI."""

    ami_ssm_parameter: str = "/aws/service/debian/release/12/latest/amd64"
    root_volume_gb: int = 30


@dataclass(frozen=True)
class TrainerConfig:
    instance_type: str = "c7i.2xlarge"
    count: int = 1
    data_volume_gb: int = 200


@dataclass(frozen=True)
class RedisCloudConfig:
    # Where Redis Cloud deploys inside AWS; peered with the VPC, so it must not overlap.
    deployment_cidr: str = "10.250.0.0/24"
    memory_limit_gb: float = 10.0
    throughput_ops: int = 25000
    # Empty for marketplace billing.
    payment_method_id: str = ""


@dataclass(frozen=True)
class RedisConfig:
    mode: str = "selfhosted"
    shards: int = 3
    replicas_per_shard: int = 1
    instance_type: str = "r7i.large"  # selfhosted
    data_volume_gb: int = 50  # selfhosted
    node_type: str = "cache.r7g.large"  # elasticache
    engine_version: str = "7.1"  # elasticache
    redis_cloud: RedisCloudConfig = field(default_factory=RedisCloudConfig)


@dataclass(frozen=True)
class KafkaConfig:
    mode: str = "selfhosted"
    brokers: int = 3
    instance_type: str = "m7i.large"  # selfhosted
    broker_type: str = "kafka.m7g.large"  # msk
    volume_gb: int = 100
    kafka_version: str = "3.6.0"
    auth: str = "iam"  # msk: iam or scram
    # Embedding updates arrive in large messages; HPS needs its receive buffer + 1 KiB.
    message_max_bytes: int = 8 * 1024 * 1024
    hps_receive_buffer_bytes: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class StorageConfig:
    # Days an overwritten model-repository object is kept before it expires.
    noncurrent_version_days: int = 30


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    region: str
    tier: str
    owner: str
    cost_center: str
    network: NetworkConfig = field(default_factory=NetworkConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    hosts: HostsConfig = field(default_factory=HostsConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)

    @property
    def name_prefix(self) -> str:
        return f"{self.project}-{self.stack}"

    @property
    def production(self) -> bool:
        return self.tier == "production"

    # --- the shape of what the program creates (the cost estimate counts the same) ---

    @property
    def nat_gateways(self) -> int:
        return self.network.availability_zones if self.network.nat_gateway_per_az else 1

    @property
    def redis_nodes(self) -> int:
        """Self-hosted or ElastiCache nodes: every shard's master and its replicas."""
        return self.redis.shards * (1 + self.redis.replicas_per_shard)

    @property
    def tags(self) -> dict[str, str]:
        return {
            "project": self.project,
            "stack": self.stack,
            "owner": self.owner,
            "cost-center": self.cost_center,
        }


_SECTIONS = {
    "network": NetworkConfig,
    "serving": ServingConfig,
    "hosts": HostsConfig,
    "trainer": TrainerConfig,
    "redis": RedisConfig,
    "kafka": KafkaConfig,
    "storage": StorageConfig,
}
_SCALARS = {"tier": "tier", "owner": "owner", "costCenter": "cost_center"}
# Secrets the entry point reads itself (as Pulumi secrets), never into this structure.
SECRET_KEYS = ("redisAuthToken",)


def parse(raw: dict[str, Any], project: str, stack: str) -> StackConfig:
    """Build and validate the config from `namespace:key -> value` pairs."""
    region = raw.get("aws:region")
    if not region:
        raise ConfigError("aws:region is not set; `pulumi config set aws:region us-east-1`")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE or name in SECRET_KEYS:
            continue
        if name in _SCALARS:
            values[_SCALARS[name]] = _scalar(key, value, str)
        elif name in _SECTIONS:
            values[name] = _build(_SECTIONS[name], value, key)
        else:
            known = ", ".join(f"{NAMESPACE}:{k}" for k in (*_SCALARS, *_SECTIONS, *SECRET_KEYS))
            raise ConfigError(f"unknown config key {key}; known keys: {known}")
    for camel, required in _SCALARS.items():  # all of them: StackConfig has no defaults
        if required not in values:
            raise ConfigError(f"{NAMESPACE}:{camel} is required; set it in Pulumi.{stack}.yaml")
    config = StackConfig(project=project, stack=stack, region=region, **values)
    validate(config)
    return config


def from_stack_file(path: Path, project: str = "recstack") -> StackConfig:
    """Parse a committed Pulumi.<stack>.yaml (secure values are skipped)."""
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    raw = (yaml.safe_load(path.read_text()) or {}).get("config", {})
    return parse(raw, project, stack)


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        name = _camel_to_snake(key)
        if name not in fields:
            known = ", ".join(sorted(_snake_to_camel(f) for f in fields))
            raise ConfigError(f"unknown key {where}.{key}; expected one of: {known}")
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, f"{where}.{key}")
        elif typing.get_origin(hint) is tuple:
            if not isinstance(value, list):
                raise ConfigError(f"{where}.{key} must be a list, got {value!r}")
            values[name] = tuple(
                _scalar(f"{where}.{key}[{i}]", v, str) for i, v in enumerate(value)
            )
        else:
            values[name] = _scalar(f"{where}.{key}", value, hint)
    return cls(**values)


def _scalar(where: str, value: Any, kind: type) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # YAML reads 7.1 or 1042 as numbers
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {kind.__name__}, got {value!r}")
    return value


# --- validation: one function per section, each error names its key ---------------------


def validate(config: StackConfig) -> None:
    _validate_top(config)
    _validate_network(config)
    _validate_serving(config)
    _validate_hosts(config)
    _validate_trainer(config)
    _validate_redis(config)
    _validate_kafka(config)
    _validate_storage(config)


def _key(section: str, name: str) -> str:
    return f"{NAMESPACE}:{section}.{_snake_to_camel(name)}"


def _validate_top(config: StackConfig) -> None:
    if config.region not in aws_catalog.regions():
        raise ConfigError(
            f"aws:region {config.region!r} is not an AWS region; use one such as us-east-1"
        )
    if config.tier not in TIERS:
        raise ConfigError(
            f"{NAMESPACE}:tier must be one of {', '.join(TIERS)}; got {config.tier!r}"
        )
    for key, value in (("owner", config.owner), ("costCenter", config.cost_center)):
        if not re.fullmatch(r"[\w.:/=+\-@ ]{1,256}", value):
            raise ConfigError(
                f"{NAMESPACE}:{key} {value!r} is not a valid AWS tag value "
                "(1-256 letters, digits, spaces and _.:/=+-@)"
            )
    if not re.fullmatch(rf"[a-z][a-z0-9-]{{0,{MAX_PREFIX - 1}}}", config.name_prefix) or (
        "--" in config.name_prefix
    ):
        raise ConfigError(
            f"project and stack names make the resource prefix {config.name_prefix!r}; AWS "
            "names need lowercase letters, digits and single hyphens, and load balancer and "
            f"target group names leave room for at most {MAX_PREFIX} characters: rename the "
            "stack (e.g. prod instead of production)"
        )


def _network(where: str, value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise ConfigError(
            f"{where} {value!r} is not an IPv4 network in CIDR form ({exc})"
        ) from None


def _validate_network(config: StackConfig) -> None:
    net = config.network
    vpc = _network(_key("network", "cidr"), net.cidr)
    if not 16 <= vpc.prefixlen <= 24:
        raise ConfigError(
            f"{_key('network', 'cidr')} must be between /16 and /24 (AWS allows /16-/28 and "
            f"the kit cuts it into 8 subnets); got /{vpc.prefixlen}"
        )
    if not 1 <= net.availability_zones <= MAX_AZS:
        raise ConfigError(
            f"{_key('network', 'availability_zones')} must be 1 to {MAX_AZS}; "
            f"got {net.availability_zones}"
        )
    if config.production and net.availability_zones < 2:
        raise ConfigError(
            f"{_key('network', 'availability_zones')} must be at least 2 in production: "
            "one AZ failing would take the whole system down"
        )
    if not net.client_cidrs:
        raise ConfigError(
            f"{_key('network', 'client_cidrs')} is empty: nobody could reach Triton; list the "
            "networks of your clients"
        )
    for i, cidr in enumerate(net.client_cidrs):
        client = _network(f"{_key('network', 'client_cidrs')}[{i}]", cidr)
        if client.prefixlen < MIN_CLIENT_PREFIX:
            raise ConfigError(
                f"{_key('network', 'client_cidrs')}[{i}] {cidr} is (close to) the whole "
                f"internet: the kit never opens ingress that wide (/{MIN_CLIENT_PREFIX} at "
                "most); list your clients' networks"
            )
    for i, cidr in enumerate(net.reserved_cidrs):
        reserved = _network(f"{_key('network', 'reserved_cidrs')}[{i}]", cidr)
        if vpc.overlaps(reserved):
            raise ConfigError(
                f"{_key('network', 'cidr')} {vpc} overlaps {_key('network', 'reserved_cidrs')}"
                f"[{i}] {reserved}; choose a VPC range that does not"
            )


def _instance_type(where: str, value: str) -> None:
    if value not in aws_catalog.ec2_instance_types():
        raise ConfigError(f"{where} {value!r} is not an EC2 instance type; check the spelling")


def _validate_serving(config: StackConfig) -> None:
    serving = config.serving
    where = _key("serving", "instance_type")
    _instance_type(where, serving.instance_type)
    if aws_catalog.gpu_family(serving.instance_type) is None:
        raise ConfigError(
            f"{where} {serving.instance_type!r} has no supported NVIDIA GPU (x86_64, Turing or "
            f"later); use one of the families {aws_catalog.describe_gpu_families()}"
        )
    if not 1 <= serving.min_size <= serving.desired_capacity <= serving.max_size:
        raise ConfigError(
            f"{NAMESPACE}:serving needs 1 <= minSize <= desiredCapacity <= maxSize; got "
            f"{serving.min_size}, {serving.desired_capacity}, {serving.max_size}"
        )
    if not 10 <= serving.target_cpu_percent <= 90:
        raise ConfigError(f"{_key('serving', 'target_cpu_percent')} must be 10 to 90")
    _volume(_key("serving", "root_volume_gb"), serving.root_volume_gb, 75)
    _volume(_key("serving", "data_volume_gb"), serving.data_volume_gb, 20)
    _ami_parameter(_key("serving", "ami_ssm_parameter"), serving.ami_ssm_parameter)


def _ami_parameter(where: str, value: str) -> None:
    if not value.startswith("/aws/service/"):
        raise ConfigError(
            f"{where} must name a public SSM parameter (/aws/service/...), not an AMI id: "
            "AMIs are looked up, never hard-coded"
        )


def _validate_hosts(config: StackConfig) -> None:
    _ami_parameter(_key("hosts", "ami_ssm_parameter"), config.hosts.ami_ssm_parameter)
    _volume(_key("hosts", "root_volume_gb"), config.hosts.root_volume_gb, 8)


def _host_type(where: str, value: str) -> None:
    """A self-managed host's type: it must exist and run the hosts' amd64 AMI."""
    _instance_type(where, value)
    if aws_catalog.is_arm(value):
        raise ConfigError(
            f"{where} {value!r} is an Arm (Graviton) type, but the hosts' AMI is amd64; "
            "choose an x86_64 type such as m7i.large"
        )


def _volume(where: str, value: int, minimum: int) -> None:
    if not minimum <= value <= MAX_GP3_GB:
        raise ConfigError(f"{where} must be {minimum} to {MAX_GP3_GB} (GiB, gp3); got {value}")


def _validate_trainer(config: StackConfig) -> None:
    _host_type(_key("trainer", "instance_type"), config.trainer.instance_type)
    _at_least(_key("trainer", "count"), config.trainer.count, 1)
    _volume(_key("trainer", "data_volume_gb"), config.trainer.data_volume_gb, 20)


def _validate_redis(config: StackConfig) -> None:
    redis = config.redis
    if redis.mode not in REDIS_MODES:
        raise ConfigError(
            f"{_key('redis', 'mode')} must be one of {', '.join(REDIS_MODES)}; got {redis.mode!r}"
        )
    if redis.shards < 3:
        raise ConfigError(
            f"{_key('redis', 'shards')} must be at least 3 (a Redis cluster needs three "
            f"masters to fail over); got {redis.shards}"
        )
    if not 0 <= redis.replicas_per_shard <= 5:
        raise ConfigError(f"{_key('redis', 'replicas_per_shard')} must be 0 to 5")
    if config.production and redis.replicas_per_shard < 1:
        raise ConfigError(
            f"{_key('redis', 'replicas_per_shard')} must be at least 1 in production: "
            "without replicas a failed node loses its shard"
        )
    if redis.mode == "selfhosted":
        _host_type(_key("redis", "instance_type"), redis.instance_type)
        _volume(_key("redis", "data_volume_gb"), redis.data_volume_gb, 10)
    elif redis.mode == "elasticache":
        if not aws_catalog.is_elasticache_node_type(redis.node_type):
            families = ", ".join(sorted(aws_catalog.ELASTICACHE_SIZES))
            raise ConfigError(
                f"{_key('redis', 'node_type')} {redis.node_type!r} is not a current ElastiCache "
                f"node type (cache.<family>.<size>, families {families})"
            )
        if redis.shards > 500:
            raise ConfigError(f"{_key('redis', 'shards')} can be at most 500 on ElastiCache")
        if not re.fullmatch(r"[67]\.\d", redis.engine_version):
            raise ConfigError(
                f"{_key('redis', 'engine_version')} must be a Redis 6.x or 7.x version such as "
                f"7.1; got {redis.engine_version!r}"
            )
    else:
        cloud = redis.redis_cloud
        where = f"{NAMESPACE}:redis.redisCloud.deploymentCidr"
        deployment = _network(where, cloud.deployment_cidr)
        if deployment.prefixlen != 24:
            raise ConfigError(
                f"{where} must be a /24 (Redis Cloud's requirement); got /{deployment.prefixlen}"
            )
        vpc = ipaddress.IPv4Network(config.network.cidr)
        if deployment.overlaps(vpc):
            raise ConfigError(
                f"{where} {deployment} overlaps {_key('network', 'cidr')} {vpc}: the "
                "subscription is peered with the VPC, so the ranges must differ"
            )
        if cloud.memory_limit_gb <= 0:
            raise ConfigError(f"{NAMESPACE}:redis.redisCloud.memoryLimitGb must be positive")


def _validate_kafka(config: StackConfig) -> None:
    kafka = config.kafka
    azs = config.network.availability_zones
    if kafka.mode not in KAFKA_MODES:
        raise ConfigError(
            f"{_key('kafka', 'mode')} must be one of {', '.join(KAFKA_MODES)}; got {kafka.mode!r}"
        )
    _at_least(_key("kafka", "brokers"), kafka.brokers, 1)
    _volume(_key("kafka", "volume_gb"), kafka.volume_gb, 1)
    if kafka.message_max_bytes < kafka.hps_receive_buffer_bytes + 1024:
        raise ConfigError(
            f"{_key('kafka', 'message_max_bytes')} ({kafka.message_max_bytes}) must be at least "
            f"{_key('kafka', 'hps_receive_buffer_bytes')} + 1024 "
            f"({kafka.hps_receive_buffer_bytes + 1024}), or HPS update messages are refused"
        )
    if kafka.mode == "selfhosted":
        _host_type(_key("kafka", "instance_type"), kafka.instance_type)
        return
    if azs not in (2, 3):
        raise ConfigError(
            f"MSK needs its brokers in 2 or 3 AZs: set {_key('network', 'availability_zones')} "
            f"to 2 or 3 (got {azs})"
        )
    if kafka.brokers % azs:
        raise ConfigError(
            f"{_key('kafka', 'brokers')} ({kafka.brokers}) must be a multiple of "
            f"{_key('network', 'availability_zones')} ({azs}): MSK spreads brokers evenly"
        )
    if not aws_catalog.is_msk_broker_type(kafka.broker_type):
        families = ", ".join(sorted(aws_catalog.MSK_SIZES))
        raise ConfigError(
            f"{_key('kafka', 'broker_type')} {kafka.broker_type!r} is not an MSK broker type "
            f"(kafka.<family>.<size>, families {families})"
        )
    if kafka.auth not in ("iam", "scram"):
        raise ConfigError(f"{_key('kafka', 'auth')} must be iam or scram; got {kafka.auth!r}")
    if not re.fullmatch(r"\d+\.\d+\.\d+(\.\w+)?", kafka.kafka_version):
        raise ConfigError(f"{_key('kafka', 'kafka_version')} must look like 3.6.0")


def _validate_storage(config: StackConfig) -> None:
    _at_least(_key("storage", "noncurrent_version_days"), config.storage.noncurrent_version_days, 1)


def _at_least(where: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ConfigError(f"{where} must be at least {minimum}; got {value}")
