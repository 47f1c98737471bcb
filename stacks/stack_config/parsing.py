"""From `namespace:key -> value` pairs (camelCase keys, as in Pulumi.<stack>.yaml) to a
StackConfig: every key must be known and every value of its field's type. The top-level
keys are sorted out here; each section's object goes through the shared builder
(recstack_config). What values are allowed is checks.py's business."""

from __future__ import annotations

from typing import Any

from recstack_config import ConfigError, DataclassBuilder, snake_to_camel

from .schema import (
    HostsConfig,
    KafkaConfig,
    NetworkConfig,
    RedisConfig,
    ServingConfig,
    StackConfig,
    StorageConfig,
    TrainerConfig,
)

NAMESPACE = "recstack"
SECTIONS = {
    "network": NetworkConfig,
    "serving": ServingConfig,
    "hosts": HostsConfig,
    "trainer": TrainerConfig,
    "redis": RedisConfig,
    "kafka": KafkaConfig,
    "storage": StorageConfig,
}
SCALARS = {"tier": "tier", "owner": "owner", "costCenter": "cost_center"}
# Secrets the entry point reads itself (as Pulumi secrets), never into this structure.
SECRET_KEYS = ("redisAuthToken",)
# Keys older stack files may still set: each fails with what to do instead, since
# ignoring one would deploy something other than what the file asks for.
_MSK_ONLY = (
    "AWS stacks run Kafka on MSK only, as no current Apache Kafka broker can be run or "
    "tested by the kit"
)
REMOVED_KEYS = {
    f"{NAMESPACE}:kafka.mode": (
        f"{_MSK_ONLY}; delete the key and size MSK with kafka.brokers (a multiple of "
        "network.availabilityZones), kafka.brokerType and kafka.auth"
    ),
    f"{NAMESPACE}:kafka.instanceType": (
        f"{_MSK_ONLY}; delete the key and set kafka.brokerType (e.g. kafka.t3.small) and kafka.auth"
    ),
    # ps.json always had the contract's receive buffer: the key changed nothing HPS read.
    f"{NAMESPACE}:kafka.hpsReceiveBufferBytes": (
        "HPS's receive buffer is fixed by the kit (4 MiB, ps.json's receive_buffer_size); "
        "delete the key, and keep kafka.messageMaxBytes at least 4 MiB + 1024"
    ),
}


# Section objects spell their fields in camelCase.
_BUILDER = DataclassBuilder(spell=snake_to_camel, removed=REMOVED_KEYS)


def build(raw: dict[str, Any], project: str, stack: str) -> StackConfig:
    """The config as typed values, not yet validated."""
    region = raw.get("aws:region")
    if not region:
        raise ConfigError("aws:region is not set; `pulumi config set aws:region us-east-1`")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE or name in SECRET_KEYS:
            continue
        if name in SCALARS:
            values[SCALARS[name]] = _BUILDER.coerce(str, value, key)
        elif name in SECTIONS:
            values[name] = _BUILDER.build(SECTIONS[name], value, f"{key}.")
        else:
            known = ", ".join(f"{NAMESPACE}:{k}" for k in (*SCALARS, *SECTIONS, *SECRET_KEYS))
            raise ConfigError(f"unknown config key {key}; known keys: {known}")
    for camel, required in SCALARS.items():  # all of them: StackConfig has no defaults
        if required not in values:
            raise ConfigError(f"{NAMESPACE}:{camel} is required; set it in Pulumi.{stack}.yaml")
    return StackConfig(project=project, stack=stack, region=region, **values)
