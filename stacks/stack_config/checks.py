"""Validation: one function per section, each error naming its key and the fix."""

from __future__ import annotations

import ipaddress
import re

from recstack_config import ConfigError, at_least, between, one_of, snake_to_camel
from recstack_contract.kafka import HPS_RECEIVE_BUFFER_BYTES

from . import aws_catalog
from .layout import MAX_AZS, MAX_PREFIX
from .parsing import NAMESPACE
from .schema import MSK_AUTH_MODES, REDIS_MODES, TIERS, StackConfig

MAX_GP3_GB = 16384
# Narrower client networks than this are refused as good as world-open.
MIN_CLIENT_PREFIX = 8


def validate(config: StackConfig) -> None:
    """Raise ConfigError for the first value the kit or AWS would refuse."""
    _validate_top(config)
    _validate_network(config)
    _validate_serving(config)
    _validate_hosts(config)
    _validate_trainer(config)
    _validate_redis(config)
    _validate_kafka(config)
    _validate_storage(config)


def _key(section: str, name: str) -> str:
    return f"{NAMESPACE}:{section}.{snake_to_camel(name)}"


def _validate_top(config: StackConfig) -> None:
    if config.region not in aws_catalog.regions():
        raise ConfigError(
            f"aws:region {config.region!r} is not an AWS region; use one such as us-east-1"
        )
    one_of(f"{NAMESPACE}:tier", config.tier, TIERS)
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
    between(_key("network", "availability_zones"), net.availability_zones, 1, MAX_AZS)
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
    between(_key("serving", "target_cpu_percent"), serving.target_cpu_percent, 10, 90)
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
    at_least(_key("trainer", "count"), config.trainer.count, 1)
    _volume(_key("trainer", "data_volume_gb"), config.trainer.data_volume_gb, 20)


def _validate_redis(config: StackConfig) -> None:
    redis = config.redis
    one_of(_key("redis", "mode"), redis.mode, REDIS_MODES)
    if redis.shards < 3:
        raise ConfigError(
            f"{_key('redis', 'shards')} must be at least 3 (a Redis cluster needs three "
            f"masters to fail over); got {redis.shards}"
        )
    between(_key("redis", "replicas_per_shard"), redis.replicas_per_shard, 0, 5)
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
    at_least(_key("kafka", "brokers"), kafka.brokers, 1)
    _volume(_key("kafka", "volume_gb"), kafka.volume_gb, 1)
    least = HPS_RECEIVE_BUFFER_BYTES + 1024
    if kafka.message_max_bytes < least:
        raise ConfigError(
            f"{_key('kafka', 'message_max_bytes')} ({kafka.message_max_bytes}) must be at least "
            f"HPS's receive buffer + 1024 ({least}), or HPS update messages are refused"
        )
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
    if kafka.auth not in MSK_AUTH_MODES:
        raise ConfigError(
            f"{_key('kafka', 'auth')} must be {' or '.join(MSK_AUTH_MODES)}; got {kafka.auth!r}"
        )
    if not re.fullmatch(r"\d+\.\d+\.\d+(\.\w+)?", kafka.kafka_version):
        raise ConfigError(f"{_key('kafka', 'kafka_version')} must look like 3.6.0")


def _validate_storage(config: StackConfig) -> None:
    at_least(_key("storage", "noncurrent_version_days"), config.storage.noncurrent_version_days, 1)
