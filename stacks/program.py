"""The whole stack, declared from a validated StackConfig. The entry point (__main__.py)
reads the config and exports what this returns; tests call deploy() under mocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from hosts import HostPool
from iam import IamArgs, InstanceRoles
from inventory import inventory_document
from kafka_msk import Msk, MskArgs
from kafka_selfhosted import SelfHostedKafka, SelfHostedKafkaArgs
from network import Network, NetworkArgs
from redis_cloud import RedisCloud, RedisCloudArgs
from redis_elasticache import ElastiCacheArgs, ElastiCacheRedis
from redis_selfhosted import SelfHostedRedis, SelfHostedRedisArgs
from security import KAFKA_PORTS, REDIS_PORT, SecurityArgs, SecurityGroups
from serving_fleet import ServingFleet, ServingFleetArgs
from stack_config import StackConfig
from storage import Storage, StorageArgs
from trainer import TrainerArgs, Trainers


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
            nat_gateway_per_az=config.network.nat_gateway_per_az,
            region=region,
            tags=tags,
        ),
    )
    private = [s.id for s in network.private_subnets]
    kafka_port = KAFKA_PORTS[
        "selfhosted" if config.kafka.mode == "selfhosted" else config.kafka.auth
    ]
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
        StorageArgs(noncurrent_version_days=config.storage.noncurrent_version_days, tags=tags),
    )
    kafka_cluster_name = f"{prefix}-kafka"
    roles = InstanceRoles(
        prefix,
        IamArgs(
            region=region,
            bucket_arns={purpose: b.arn for purpose, b in storage.buckets.items()},
            key_arn=storage.key.arn,
            kafka_cluster_name=kafka_cluster_name,
            tags=tags,
        ),
    )
    host_ami = aws.ssm.get_parameter_output(name=config.hosts.ami_ssm_parameter).value
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
            ami_ssm_parameter=config.serving.ami_ssm_parameter,
            vpc_id=network.vpc_id,
            subnet_ids=private,
            load_balancer_subnet_ids=[s.id for s in network.public_subnets]
            if public_lb
            else private,
            internal_load_balancer=not public_lb,
            serving_security_group_id=security.serving.id,
            load_balancer_security_group_id=security.load_balancer.id,
            instance_profile_arn=roles.profiles["serving"].arn,
            tags=tags,
        ),
    )

    def pool(group: str, instance_type: str, data_volume_gb: int, profile: str) -> HostPool:
        """Self-managed hosts of one tier: Debian, private subnets, the tier's group."""
        return HostPool(
            group=group,
            instance_type=instance_type,
            data_volume_gb=data_volume_gb,
            root_volume_gb=config.hosts.root_volume_gb,
            ami_id=host_ami,
            subnet_ids=private,
            security_group_id=getattr(security, group).id,
            instance_profile=roles.profiles[profile].name,
            region=region,
            tags=tags,
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
    kafka = _kafka(config, network, security, storage, pool, kafka_cluster_name, kafka_port)
    inventory = inventory_document(
        stack=config.stack,
        region=region,
        transfer_bucket=storage.buckets["transfer"].bucket,
        buckets={purpose: b.bucket for purpose, b in storage.buckets.items()},
        autoscaling_group=fleet.group.name,
        load_balancer_dns=fleet.load_balancer.dns_name,
        trainer_hosts=trainers.nodes,
        redis=redis,
        kafka=kafka,
    )
    return {"inventory": inventory, "redis_password": pulumi.Output.secret(password)}


PoolFactory = Callable[[str, str, int, str], HostPool]


def _redis(
    config: StackConfig,
    network: Network,
    security: SecurityGroups,
    storage: Storage,
    pool: PoolFactory,
    password: pulumi.Input[str],
) -> pulumi.Output[dict[str, Any]]:
    redis, prefix = config.redis, f"{config.name_prefix}-redis"
    private = [s.id for s in network.private_subnets]
    if redis.mode == "selfhosted":
        nodes = SelfHostedRedis(
            prefix,
            SelfHostedRedisArgs(
                pool=pool("redis", redis.instance_type, redis.data_volume_gb, "data"),
                shards=redis.shards,
                replicas_per_shard=redis.replicas_per_shard,
            ),
        ).nodes
        return nodes.apply(
            lambda hosts: {
                "mode": "selfhosted",
                "hosts": hosts,
                "port": REDIS_PORT,
                "tls": False,
                "cluster": True,
            }
        )
    if redis.mode == "elasticache":
        endpoint = ElastiCacheRedis(
            prefix,
            ElastiCacheArgs(
                replication_group_id=prefix,
                shards=redis.shards,
                replicas_per_shard=redis.replicas_per_shard,
                node_type=redis.node_type,
                engine_version=redis.engine_version,
                multi_az=redis.replicas_per_shard > 0 and config.network.availability_zones > 1,
                subnet_ids=private,
                security_group_id=security.redis.id,
                kms_key_arn=storage.key.arn,
                auth_token=password,
                snapshot_retention_days=7 if config.production else 1,
                tags=config.tags,
            ),
        ).endpoint
        return endpoint.apply(
            lambda host: {
                "mode": "elasticache",
                "host": host,
                "port": REDIS_PORT,
                "tls": True,
                "cluster": True,
            }
        )
    cloud = redis.redis_cloud
    endpoint = RedisCloud(
        prefix,
        RedisCloudArgs(
            region=config.region,
            deployment_cidr=cloud.deployment_cidr,
            memory_limit_gb=cloud.memory_limit_gb,
            throughput_ops=cloud.throughput_ops,
            payment_method_id=cloud.payment_method_id,
            zone_names=network.zone_names,
            vpc_id=network.vpc_id,
            vpc_cidr=config.network.cidr,
            route_table_ids=[t.id for t in network.private_route_tables],
            password=password,
            tags=config.tags,
        ),
    ).endpoint
    return endpoint.apply(
        lambda address: {"mode": "redis_cloud", "address": address, "tls": True, "cluster": False}
    )


def _kafka(
    config: StackConfig,
    network: Network,
    security: SecurityGroups,
    storage: Storage,
    pool: PoolFactory,
    cluster_name: str,
    port: int,
) -> pulumi.Output[dict[str, Any]]:
    kafka = config.kafka
    private = [s.id for s in network.private_subnets]
    if kafka.mode == "selfhosted":
        nodes = SelfHostedKafka(
            f"{config.name_prefix}-kafka",
            SelfHostedKafkaArgs(
                pool=pool("kafka", kafka.instance_type, kafka.volume_gb, "data"),
                brokers=kafka.brokers,
            ),
        ).nodes
        return nodes.apply(
            lambda hosts: {"mode": "selfhosted", "hosts": hosts, "port": port, "auth": "none"}
        )
    bootstrap = Msk(
        f"{config.name_prefix}-msk",
        MskArgs(
            cluster_name=cluster_name,
            kafka_version=kafka.kafka_version,
            brokers=kafka.brokers,
            broker_type=kafka.broker_type,
            volume_gb=kafka.volume_gb,
            auth=kafka.auth,
            message_max_bytes=kafka.message_max_bytes,
            subnet_ids=private,
            security_group_id=security.kafka.id,
            kms_key_arn=storage.key.arn,
            tags=config.tags,
        ),
    ).bootstrap
    return bootstrap.apply(
        lambda brokers: {
            "mode": "msk",
            "bootstrap": brokers,
            "port": port,
            "auth": kafka.auth,
            "tls": True,
        }
    )
