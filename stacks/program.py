"""The whole stack, declared from a validated StackConfig. The entry point (__main__.py)
reads the config and exports what this returns; tests call deploy() under mocks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from hosts import HostPool
from iam import IamArgs, InstanceRoles
from inventory import inventory_document
from kafka_msk import Msk, MskArgs
from network import Network, NetworkArgs
from recstack_contract.kafka import KafkaEndpoint
from recstack_contract.ports import PORTS
from recstack_contract.redis import ACL_USER, RedisConnection
from redis_cloud import RedisCloud, RedisCloudArgs
from redis_elasticache import ElastiCacheArgs, ElastiCacheRedis
from redis_selfhosted import SelfHostedRedis, SelfHostedRedisArgs
from security import SecurityArgs, SecurityGroups
from serving_fleet import ServingFleet, ServingFleetArgs
from stack_config import StackConfig
from storage import Storage, StorageArgs
from trainer import TrainerArgs, Trainers

# (group, instance type, data volume GiB, instance profile tier) -> the tier's host pool
PoolFactory = Callable[[str, str, int, str], HostPool]


@dataclass
class RedisTier:
    """The Redis tier as the inventory sees it: how clients connect (the contract's
    connection structure), and its hosts if the kit runs the servers."""

    connection: pulumi.Output[dict[str, Any]]
    hosts: pulumi.Output[list[dict]]


def deploy(
    config: StackConfig, redis_password: pulumi.Input[str] | None
) -> dict[str, pulumi.Output]:
    """Declare every resource; returns the stack outputs (name -> value)."""
    prefix, tags, region = config.name_prefix, config.tags, config.region
    network = Network(
        prefix,
        NetworkArgs(
            cidr=config.network.cidr,
            availability_zones=config.network.availability_zones,
            nat_gateways=config.nat_gateways,
            region=region,
            tags=tags,
        ),
    )
    private = network.private_subnet_ids
    kafka_port = PORTS.msk(config.kafka.auth)
    security = SecurityGroups(
        prefix,
        SecurityArgs(
            vpc_id=network.vpc_id,
            client_cidrs=config.network.client_cidrs,
            kafka_port=kafka_port,
            tags=tags,
        ),
    )
    storage = Storage(
        prefix,
        StorageArgs(
            noncurrent_version_days=config.storage.noncurrent_version_days,
            force_destroy=not config.production,
            tags=tags,
        ),
    )
    kafka_cluster_name = f"{prefix}-kafka"
    roles = InstanceRoles(
        prefix,
        IamArgs(
            region=region,
            bucket_arns={purpose: b.arn for purpose, b in storage.buckets.items()},
            key_arn=storage.key.arn,
            kafka_cluster_name=kafka_cluster_name,
            msk_auth=config.kafka.auth,
            tags=tags,
        ),
    )
    public_lb = config.network.public_load_balancer
    fleet = ServingFleet(
        prefix,
        ServingFleetArgs(
            instance_type=config.serving.instance_type,
            min_size=config.serving.min_size,
            max_size=config.serving.max_size,
            desired_capacity=config.serving.desired_capacity,
            root_volume_gb=config.serving.root_volume_gb,
            data_volume_gb=config.serving.data_volume_gb,
            ami_id=ami(config.serving.ami_ssm_parameter),
            target_cpu_percent=config.serving.target_cpu_percent,
            vpc_id=network.vpc_id,
            subnet_ids=private,
            load_balancer_subnet_ids=network.public_subnet_ids if public_lb else private,
            internal_load_balancer=not public_lb,
            serving_security_group_id=security.serving.id,
            load_balancer_security_group_id=security.load_balancer.id,
            instance_profile_arn=roles.profiles["serving"].arn,
            tags=tags,
        ),
    )
    host_ami = ami(config.hosts.ami_ssm_parameter)

    def pool(group: str, instance_type: str, data_volume_gb: int, profile: str) -> HostPool:
        """Self-managed hosts of one tier: Debian, private subnets, the tier's group."""
        return HostPool(
            group=group,
            instance_type=instance_type,
            data_volume_gb=data_volume_gb,
            root_volume_gb=config.hosts.root_volume_gb,
            ami_id=host_ami,
            subnet_ids=private,
            security_group_id=security.group(group).id,
            instance_profile=roles.profiles[profile].name,
            region=region,
            tags=tags,
            network_ready=network.egress_ready,
        )

    trainers = Trainers(
        f"{prefix}-trainer",
        TrainerArgs(
            pool=pool(
                "trainer", config.trainer.instance_type, config.trainer.data_volume_gb, "trainer"
            ),
            count=config.trainer.count,
        ),
    )
    password = (
        redis_password
        or random.RandomPassword(f"{prefix}-redis-password", length=48, special=False).result
    )
    redis = _redis(config, network, security, storage, pool, password)
    kafka = _kafka(config, network, security, storage, kafka_cluster_name)
    inventory = inventory_document(
        stack=config.stack,
        region=region,
        transfer_bucket=storage.buckets["transfer"].bucket,
        autoscaling_group=fleet.group.name,
        load_balancer_dns=fleet.load_balancer.dns_name,
        trainer_hosts=trainers.nodes,
        redis_hosts=redis.hosts,
        redis_mode=config.redis.mode,
        redis=redis.connection,
        redis_cluster_replicas=config.redis.replicas_per_shard,
        kafka=kafka,
    )
    return {
        "inventory": inventory,
        "buckets": {purpose: b.bucket for purpose, b in storage.buckets.items()},
        "redis_password": pulumi.Output.secret(password),
    }


def ami(ssm_parameter: str) -> pulumi.Output[str]:
    """The current AMI named by a public SSM parameter: looked up, never hard-coded."""
    return aws.ssm.get_parameter_output(name=ssm_parameter).value


def _no_hosts() -> pulumi.Output[list[dict]]:
    return pulumi.Output.from_input([])


def _redis(
    config: StackConfig,
    network: Network,
    security: SecurityGroups,
    storage: Storage,
    pool: PoolFactory,
    password: pulumi.Input[str],
) -> RedisTier:
    """Every mode's clients connect through one structure (recstack_contract/redis.py):
    the kit's own cluster with its ACL user over the VPC; managed services over TLS with
    the AUTH token of the default user, verified against the system trust store."""
    redis, prefix = config.redis, f"{config.name_prefix}-redis"
    if redis.mode == "selfhosted":
        nodes = SelfHostedRedis(
            prefix,
            SelfHostedRedisArgs(
                pool=pool("redis", redis.instance_type, redis.data_volume_gb, "data"),
                shards=redis.shards,
                replicas_per_shard=redis.replicas_per_shard,
            ),
        ).nodes
        connection = nodes.apply(
            lambda hosts: RedisConnection(
                tuple(h["private_ip"] for h in hosts), cluster=True, user=ACL_USER
            ).as_mapping()
        )
        return RedisTier(connection, nodes)
    if redis.mode == "elasticache":
        address = ElastiCacheRedis(
            prefix,
            ElastiCacheArgs(
                replication_group_id=prefix,
                shards=redis.shards,
                replicas_per_shard=redis.replicas_per_shard,
                node_type=redis.node_type,
                engine_version=redis.engine_version,
                multi_az=redis.replicas_per_shard > 0 and config.network.availability_zones > 1,
                subnet_ids=network.private_subnet_ids,
                security_group_id=security.redis.id,
                kms_key_arn=storage.key.arn,
                auth_token=password,
                snapshot_retention_days=7 if config.production else 1,
                tags=config.tags,
            ),
        ).endpoint
        connection = address.apply(
            lambda host: RedisConnection((host,), cluster=True, tls=True).as_mapping()
        )
        return RedisTier(connection, _no_hosts())
    cloud = redis.redis_cloud
    private_endpoint = RedisCloud(
        prefix,
        RedisCloudArgs(
            region=config.region,
            deployment_cidr=cloud.deployment_cidr,
            memory_limit_gb=cloud.memory_limit_gb,
            throughput_ops=cloud.throughput_ops,
            payment_method_id=cloud.payment_method_id,
            zone_ids=network.zone_ids,
            vpc_id=network.vpc_id,
            vpc_cidr=config.network.cidr,
            route_table_ids=network.private_route_table_ids,
            password=password,
            tags=config.tags,
        ),
    ).endpoint

    def cloud_connection(host_port: str) -> dict[str, Any]:
        # Redis Enterprise's single proxy endpoint: not a cluster to the client.
        host, port = host_port.rsplit(":", 1)
        return RedisConnection((host,), int(port), tls=True).as_mapping()

    return RedisTier(private_endpoint.apply(cloud_connection), _no_hosts())


def _kafka(
    config: StackConfig,
    network: Network,
    security: SecurityGroups,
    storage: Storage,
    cluster_name: str,
) -> pulumi.Output[dict[str, Any]]:
    """MSK, and how every Kafka client reaches it (the contract's KafkaEndpoint):
    bootstrap, auth, tls, region, and the SCRAM secret's ARN."""
    kafka = config.kafka
    msk = Msk(
        f"{config.name_prefix}-msk",
        MskArgs(
            cluster_name=cluster_name,
            kafka_version=kafka.kafka_version,
            brokers=kafka.brokers,
            broker_type=kafka.broker_type,
            volume_gb=kafka.volume_gb,
            auth=kafka.auth,
            message_max_bytes=kafka.message_max_bytes,
            subnet_ids=network.private_subnet_ids,
            security_group_id=security.kafka.id,
            kms_key_arn=storage.key.arn,
            tags=config.tags,
        ),
    )
    return pulumi.Output.all(msk.bootstrap, msk.credentials_secret).apply(
        lambda values: KafkaEndpoint(
            values[0],
            auth=kafka.auth,
            tls=True,
            region=config.region,
            credentials_secret=values[1] or "",
        ).as_mapping()
    )
