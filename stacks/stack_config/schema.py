"""The typed stack config: one frozen dataclass per `recstack:` section, with its defaults.

Field names are the snake_case of the config keys (parsing.py maps them); checks.py says
which values are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recstack_contract import kafka as kafka_contract
from recstack_contract import redis as redis_contract

TIERS = ("staging", "production")
# Where Redis comes from: the kit's own cluster on EC2, or a managed service.
REDIS_MODES = redis_contract.MODES
# MSK takes every client authentication of the contract except the local broker's "none".
MSK_AUTH_MODES = tuple(mode for mode in kafka_contract.AUTH_MODES if mode != "none")


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
    """The self-managed hosts (trainer, self-hosted Redis): Debian 12, like CI."""

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
    """Amazon MSK, the only Kafka tier on AWS (stacks/README.md says why)."""

    brokers: int = 3
    broker_type: str = "kafka.m7g.large"
    volume_gb: int = 100
    kafka_version: str = "3.6.0"
    auth: str = "iam"  # one of MSK_AUTH_MODES
    # Embedding updates arrive in large messages: at least HPS's receive buffer
    # (recstack_contract.kafka.HPS_RECEIVE_BUFFER_BYTES, ps.json's) + 1 KiB.
    message_max_bytes: int = 8 * 1024 * 1024


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

    # --- the shape of what the program creates (the program and the cost estimate read
    # these, so they count the same) ---

    @property
    def nat_gateways(self) -> int:
        """One per AZ, or one in the first AZ that every AZ leaves through."""
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
