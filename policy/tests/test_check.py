"""check.violations, including over resources declared with pulumi-aws under Pulumi mocks
(which also proves the rules read the property names the SDK really sends)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pytest

from policy import check, rules

from .support import BLOCK_ALL, TAGS, UNKNOWN_STR

ALL_RULES = {spec.name for spec in rules.RULES}


def _rule_names(messages: list[str]) -> set[str]:
    return {message[1 : message.index("]")] for message in messages}


def test_nothing_to_check() -> None:
    assert check.violations([]) == []


def test_messages_name_rule_resource_and_fix() -> None:
    found = check.violations([("aws:ebs/volume:Volume", "kafka-0", {"size": 10.0, "tags": TAGS})])
    assert len(found) == 1
    assert found[0].startswith("[ebs-encrypted] aws.ebs.Volume 'kafka-0': encrypted is not set")
    assert "Fix:" in found[0]


def test_stack_rule_runs_over_the_whole_list() -> None:
    bucket = ("aws:s3/bucket:Bucket", "models", {"tags": TAGS, "id": "models-id"})
    block = (
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "models",
        {
            "bucket": "models-id",
            **BLOCK_ALL,
        },
    )
    found = check.violations([bucket, block])
    assert _rule_names(found) == {"s3-buckets-protected"}
    assert "server-side encryption configuration" in found[0]


def test_unknown_values_are_reported_as_not_checked() -> None:
    sg = (
        "aws:ec2/securityGroup:SecurityGroup",
        "serving",
        {
            "tags": TAGS,
            "ingress": [
                {
                    "protocol": "tcp",
                    "fromPort": 8000.0,
                    "toPort": 8000.0,
                    "cidrBlocks": [UNKNOWN_STR],
                }
            ],
        },
    )
    found = check.violations([sg])
    assert len(found) == 1
    assert found[0].startswith("[no-world-open-ingress] serving: not checked")


def test_input_props_are_left_alone() -> None:
    props: dict[str, Any] = {"tags": {"project": "p"}}
    check.violations([("aws:ec2/vpc:Vpc", "vpc", props)])
    assert props == {"tags": {"project": "p"}}


# --- under Pulumi mocks ------------------------------------------------------------------


class _Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, dict]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        resource_id = f"{args.name}-id"
        self.recorded.append((args.typ, args.name, {**args.inputs, "id": resource_id}))
        return resource_id, {**args.inputs, "arn": f"arn:aws:mock:::{args.name}"}

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def _declare(secure: bool) -> None:
    """A small stack in the shape of recstack's; ``secure=False`` breaks every rule once."""
    tags = TAGS
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.20.0.0/16", tags=tags if secure else None)
    subnet = aws.ec2.Subnet("private-a", vpc_id=vpc.id, cidr_block="10.20.1.0/24", tags=tags)
    table = aws.ec2.RouteTable("private", vpc_id=vpc.id, tags=tags)
    aws.ec2.RouteTableAssociation("private-a", route_table_id=table.id, subnet_id=subnet.id)
    serving = aws.ec2.SecurityGroup(
        "serving",
        vpc_id=vpc.id,
        ingress=[
            {
                "protocol": "tcp",
                "from_port": 8000 if secure else 22,
                "to_port": 8002 if secure else 22,
                "cidr_blocks": [vpc.cidr_block if secure else "0.0.0.0/0"],
            }
        ],
        egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
        tags=tags,
    )
    redis_sg = aws.ec2.SecurityGroup("redis", vpc_id=vpc.id, tags=tags)
    aws.vpc.SecurityGroupIngressRule(
        "redis-from-serving",
        security_group_id=redis_sg.id,
        ip_protocol="tcp",
        from_port=6379,
        to_port=6379,
        referenced_security_group_id=serving.id,
        tags=tags,
    )
    aws.ec2.SecurityGroupRule(
        "kafka-from-trainers",
        type="ingress",
        security_group_id=redis_sg.id,
        protocol="tcp",
        from_port=9094,
        to_port=9094,
        cidr_blocks=["10.20.2.0/24"],
    )
    template = aws.ec2.LaunchTemplate(
        "serving",
        image_id="ami-0123",
        instance_type="g5.xlarge",
        metadata_options={
            "http_tokens": "required" if secure else "optional",
            "http_endpoint": "enabled",
        },
        block_device_mappings=[
            {
                "device_name": "/dev/sda1",
                "ebs": {"encrypted": "true", "volume_type": "gp3", "volume_size": 200},
            }
        ],
        tags=tags,
    )
    aws.autoscaling.Group(
        "serving",
        min_size=1,
        max_size=3,
        vpc_zone_identifiers=[subnet.id],
        launch_template={"id": template.id, "version": "$Latest"},
        tags=[{"key": k, "value": v, "propagate_at_launch": True} for k, v in tags.items()],
    )
    aws.ec2.Instance(
        "redis-0",
        ami="ami-0123",
        instance_type="r7g.large",
        subnet_id=subnet.id,
        metadata_options={"http_tokens": "required"},
        root_block_device={"encrypted": True, "volume_type": "gp3"},
        ebs_block_devices=[{"device_name": "/dev/sdf", "encrypted": True, "volume_size": 100}],
        tags=tags,
    )
    aws.ebs.Volume(
        "kafka-0-data", availability_zone="eu-west-1a", size=500, encrypted=secure, tags=tags
    )
    key = aws.kms.Key("data", enable_key_rotation=True, tags=tags)
    for name in ("models", "features") if secure else ("models",):
        bucket = aws.s3.Bucket(name, tags=tags)
        aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=secure,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        algorithm = "aws:kms" if secure else "AES256"
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": algorithm,
                        "kms_master_key_id": key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
        )
    if not secure:
        aws.s3.Bucket("orphan", tags=tags)
    aws.elasticache.ReplicationGroup(
        "features",
        description="recstack online features",
        engine="redis",
        node_type="cache.r7g.large",
        num_node_groups=3,
        replicas_per_node_group=1,
        automatic_failover_enabled=True,
        multi_az_enabled=True,
        transit_encryption_enabled=secure,
        at_rest_encryption_enabled=True,
        tags=tags,
    )
    aws.msk.Cluster(
        "events",
        cluster_name="recstack",
        kafka_version="3.7.x",
        number_of_broker_nodes=3,
        broker_node_group_info={
            "instance_type": "kafka.m7g.large",
            "client_subnets": [subnet.id],
            "security_groups": [serving.id],
        },
        encryption_info={
            "encryption_at_rest_kms_key_arn": key.arn,
            "encryption_in_transit": {
                "client_broker": "TLS" if secure else "TLS_PLAINTEXT",
                "in_cluster": True,
            },
        },
        tags=tags,
    )
    random.RandomPassword("redis-auth", length=32, special=False)


def _record(secure: bool) -> list[tuple[str, str, dict]]:
    recorder = _Recorder()
    pulumi.runtime.set_mocks(recorder, project="recstack", stack="staging", preview=False)

    @pulumi.runtime.test
    def declare():
        _declare(secure)

    declare()
    return recorder.recorded


def test_mocked_secure_stack_passes_every_rule() -> None:
    recorded = _record(secure=True)
    assert len(recorded) >= 20
    assert check.violations(recorded) == []


def test_mocked_insecure_stack_breaks_every_rule() -> None:
    found = check.violations(_record(secure=False))
    assert _rule_names(found) == ALL_RULES
    assert any("aws.s3.Bucket 'orphan' has no public access block" in m for m in found)
    assert any("aws.ec2.Vpc 'vpc': missing or empty tags" in m for m in found)


@pytest.fixture(autouse=True)
def _no_mocks_left_behind():
    yield
    pulumi.runtime.settings.reset_options()
