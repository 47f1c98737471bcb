"""The whole program under mocks, for every Redis mode x MSK authentication and both
committed stacks: what it declares, and the properties that matter."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import json

import pytest
from conftest import ProgramRun, run_program, stack_file

import stack_config
from network import subnet_blocks
from recstack_contract.ports import PORTS
from recstack_contract.redis import ACL_USER, RedisConnection

# How the engine marks a secret value in resource inputs.
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"
SECRET_MARKER = "1b47061264138c4ac30d75fd1eb44270"
REDIS_MODES = stack_config.REDIS_MODES
KAFKA_AUTHS = stack_config.MSK_AUTH_MODES


def combination(redis_mode: str, kafka_auth: str) -> stack_config.StackConfig:
    """The staging stack with the given Redis mode and MSK authentication."""
    base = stack_file("staging")
    config = dataclasses.replace(
        base,
        redis=dataclasses.replace(base.redis, mode=redis_mode),
        kafka=dataclasses.replace(base.kafka, auth=kafka_auth),
    )
    stack_config.validate(config)
    return config


@functools.cache
def run(redis_mode: str, kafka_auth: str) -> ProgramRun:
    return run_program(combination(redis_mode, kafka_auth))


@functools.cache
def run_stack(stack: str) -> ProgramRun:
    return run_program(stack_file(stack))


ALL_RUNS = [(r, k) for r in REDIS_MODES for k in KAFKA_AUTHS]


@pytest.mark.parametrize(("redis_mode", "kafka_auth"), ALL_RUNS)
def test_subnets_nat_and_endpoints_per_az(redis_mode: str, kafka_auth: str) -> None:
    config = combination(redis_mode, kafka_auth)
    mocks = run(redis_mode, kafka_auth).mocks
    subnets = mocks.of_type("aws:ec2/subnet:Subnet")
    private = [s for s in subnets if "private" in s.name]
    public = [s for s in subnets if "public" in s.name]
    azs = config.network.availability_zones
    assert len(private) == len(public) == azs
    assert len({s.inputs["availabilityZone"] for s in private}) == azs
    blocks_private, blocks_public = subnet_blocks(config.network.cidr)
    assert sorted(s.inputs["cidrBlock"] for s in private) == blocks_private[:azs]
    assert sorted(s.inputs["cidrBlock"] for s in public) == blocks_public[:azs]
    assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)
    assert len(mocks.of_type("aws:ec2/natGateway:NatGateway")) == config.nat_gateways
    endpoints = {
        e.inputs["serviceName"].rsplit(".", 1)[1]: e
        for e in mocks.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    assert endpoints["s3"].inputs["vpcEndpointType"] == "Gateway"
    for service in stack_config.SSM_ENDPOINT_SERVICES:
        assert endpoints[service].inputs["vpcEndpointType"] == "Interface"
        assert endpoints[service].inputs["privateDnsEnabled"] is True


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_each_private_subnet_leaves_through_its_azs_nat_gateway_or_the_only_one(
    stack: str,
) -> None:
    config = stack_file(stack)
    mocks = run_stack(stack).mocks
    prefix = config.name_prefix
    gateways = {g.name for g in mocks.of_type("aws:ec2/natGateway:NatGateway")}
    assert gateways == {f"{prefix}-nat-{az}" for az in range(config.nat_gateways)}
    tables = {
        t.name: t.inputs["routes"]
        for t in mocks.of_type("aws:ec2/routeTable:RouteTable")
        if "private" in t.name
    }
    for az in range(config.network.availability_zones):
        (route,) = tables[f"{prefix}-private-{az}"]
        own = az if config.network.nat_gateway_per_az else 0
        assert route["natGatewayId"] == f"{prefix}-nat-{own}-id", az


@pytest.mark.parametrize(("redis_mode", "kafka_auth"), ALL_RUNS)
def test_no_world_open_ingress_and_no_ssh(redis_mode: str, kafka_auth: str) -> None:
    mocks = run(redis_mode, kafka_auth).mocks
    rules = mocks.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rules
    for rule in rules:
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0", rule.name
        assert not rule.inputs["fromPort"] <= 22 <= rule.inputs["toPort"], rule.name
        assert rule.inputs["ipProtocol"] == "tcp"
    for group in mocks.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert not group.inputs.get("ingress"), f"{group.name} has inline ingress"


def _ingress_to(run: ProgramRun, tier: str) -> set[tuple[int, str]]:
    """(port, source) of every ingress rule into `tier`'s group; source is a CIDR or group."""
    group_id = (
        next(
            g
            for g in run.mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
            if g.name.endswith(f"-{tier}")
        ).name
        + "-id"
    )
    return {
        (r.inputs["fromPort"], r.inputs.get("cidrIpv4") or r.inputs["referencedSecurityGroupId"])
        for r in run.mocks.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == group_id
    }


@pytest.mark.parametrize("kafka_auth", KAFKA_AUTHS)
def test_each_tier_admits_only_its_clients_on_the_contract_ports(kafka_auth: str) -> None:
    result = run("selfhosted", kafka_auth)
    prefix, clients = "recstack-staging", "10.0.0.0/8"
    lb, serving, trainer = (f"{prefix}-{tier}-id" for tier in ("lb", "serving", "trainer"))
    assert _ingress_to(result, "lb") == {(PORTS.triton_http, clients), (PORTS.triton_grpc, clients)}
    assert _ingress_to(result, "serving") == {
        (PORTS.triton_http, lb),
        (PORTS.triton_grpc, lb),
        (PORTS.triton_metrics, clients),
    }
    assert _ingress_to(result, "redis") == {
        (PORTS.redis, serving),
        (PORTS.redis, trainer),
        (PORTS.redis, f"{prefix}-redis-id"),
        (PORTS.redis_cluster_bus, f"{prefix}-redis-id"),
    }
    assert _ingress_to(result, "trainer") == set()
    # MSK brokers replicate inside AWS's network: clients only, on the auth mode's port.
    assert _ingress_to(result, "kafka") == {
        (PORTS.msk(kafka_auth), serving),
        (PORTS.msk(kafka_auth), trainer),
    }


def _role_policies(run: ProgramRun) -> dict[str, dict[str, dict]]:
    """tier -> statement id -> statement, for every role that has an inline policy."""
    return {
        policy.name.rsplit("-", 1)[1]: {
            s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]
        }
        for policy in run.mocks.of_type("aws:iam/rolePolicy:RolePolicy")
    }


def _buckets(statement: dict) -> set[str]:
    return {r.rsplit("-", 1)[1].removesuffix("/*") for r in statement["Resource"]}


def test_roles_get_only_their_buckets_and_kafka_actions() -> None:
    """Serving reads models, trainers write models, features and the registry, no role
    touches the transfer bucket, data nodes get SSM only, and only trainers create topics."""
    policies = _role_policies(run("selfhosted", "iam"))
    assert set(policies) == {"serving", "trainer"}
    assert set(policies["serving"]) == {"ReadBuckets", "UseStackKey", "KafkaClient"}
    assert _buckets(policies["serving"]["ReadBuckets"]) == {"models"}
    assert _buckets(policies["trainer"]["ReadWriteBuckets"]) == {"models", "features", "registry"}
    assert "kafka-cluster:CreateTopic" in policies["trainer"]["KafkaClient"]["Action"]
    assert "kafka-cluster:CreateTopic" not in policies["serving"]["KafkaClient"]["Action"]


def test_scram_clients_may_read_the_scram_secret_and_get_no_iam_kafka_actions() -> None:
    """With SCRAM, MSK never asks IAM about Kafka actions: the roles get the user's secret
    (and its key) instead."""
    policies = _role_policies(run("selfhosted", "scram"))
    assert set(policies) == {"serving", "trainer"}
    for tier, statements in policies.items():
        assert "KafkaClient" not in statements, tier
        (secret,) = statements["KafkaCredentials"]["Resource"]
        assert secret.endswith(":secret:AmazonMSK_recstack-staging-kafka-*"), tier
        assert statements["KafkaCredentialsKey"]["Action"] == ["kms:Decrypt"], tier


@pytest.mark.parametrize(("redis_mode", "kafka_auth"), ALL_RUNS)
def test_imdsv2_and_encrypted_volumes_everywhere(redis_mode: str, kafka_auth: str) -> None:
    mocks = run(redis_mode, kafka_auth).mocks
    (template,) = mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert template.inputs["imageId"] == "ami-0mock"  # looked up, not hard-coded
    assert [m["ebs"]["encrypted"] for m in template.inputs["blockDeviceMappings"]] == [
        "true",
        "true",
    ]
    for instance in mocks.of_type("aws:ec2/instance:Instance"):
        assert instance.inputs["metadataOptions"]["httpTokens"] == "required"
        assert instance.inputs["rootBlockDevice"]["encrypted"] is True
        assert all(d["encrypted"] for d in instance.inputs["ebsBlockDevices"])
        assert instance.inputs["associatePublicIpAddress"] is False
        assert "amazon-ssm-agent" in instance.inputs["userData"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_serving_fleet_spreads_over_private_subnets_behind_a_health_checked_nlb(stack: str) -> None:
    config = stack_file(stack)
    mocks = run_stack(stack).mocks
    private_ids = {
        f"{s.name}-id" for s in mocks.of_type("aws:ec2/subnet:Subnet") if "private" in s.name
    }
    (group,) = mocks.of_type("aws:autoscaling/group:Group")
    assert set(group.inputs["vpcZoneIdentifiers"]) == private_ids
    assert (group.inputs["minSize"], group.inputs["maxSize"], group.inputs["desiredCapacity"]) == (
        config.serving.min_size,
        config.serving.max_size,
        config.serving.desired_capacity,
    )
    # EC2 health: an instance is replaced when broken, not while Triton is being set up.
    assert group.inputs["healthCheckType"] == "EC2"
    (scaling,) = mocks.of_type("aws:autoscaling/policy:Policy")
    assert scaling.inputs["policyType"] == "TargetTrackingScaling"
    assert (
        scaling.inputs["targetTrackingConfiguration"]["targetValue"]
        == config.serving.target_cpu_percent
    )
    (balancer,) = mocks.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert balancer.inputs["loadBalancerType"] == "network"
    assert balancer.inputs["internal"] is True
    assert set(balancer.inputs["subnets"]) == private_ids
    target_groups = mocks.of_type("aws:lb/targetGroup:TargetGroup")
    triton_ports = [PORTS.triton_http, PORTS.triton_grpc]
    assert sorted(t.inputs["port"] for t in target_groups) == triton_ports
    for target in target_groups:
        check = target.inputs["healthCheck"]
        assert (check["protocol"], check["port"], check["path"]) == (
            "HTTP",
            str(PORTS.triton_http),
            "/v2/health/ready",
        )
    listeners = mocks.of_type("aws:lb/listener:Listener")
    assert sorted(listener.inputs["port"] for listener in listeners) == triton_ports


def test_a_public_load_balancer_sits_in_the_public_subnets() -> None:
    base = stack_file("staging")
    config = dataclasses.replace(
        base, network=dataclasses.replace(base.network, public_load_balancer=True)
    )
    mocks = run_program(config).mocks
    (balancer,) = mocks.of_type("aws:lb/loadBalancer:LoadBalancer")
    public_ids = {
        f"{s.name}-id" for s in mocks.of_type("aws:ec2/subnet:Subnet") if "public" in s.name
    }
    assert balancer.inputs["internal"] is False
    assert set(balancer.inputs["subnets"]) == public_ids


@pytest.mark.parametrize("kafka_auth", KAFKA_AUTHS)
def test_selfhosted_redis_keeps_replicas_away_from_their_master(kafka_auth: str) -> None:
    config = combination("selfhosted", kafka_auth)
    result = run("selfhosted", kafka_auth)
    nodes = [
        n
        for n in result.mocks.of_type("aws:ec2/instance:Instance")
        if n.inputs["tags"]["recstack:group"] == "redis"
    ]
    assert len(nodes) == config.redis_nodes == 6
    by_shard: dict[str, dict[str, list[str]]] = {}
    for node in nodes:
        tags = node.inputs["tags"]
        by_shard.setdefault(tags["recstack:shard"], {}).setdefault(
            tags["recstack:role"], []
        ).append(node.state["availabilityZone"])
    for shard, roles in by_shard.items():
        (master_zone,) = roles["master"]
        assert master_zone not in roles["replica"], f"shard {shard}"
    hosts = result.outputs["inventory"]["groups"]["redis"]["hosts"]
    assert len(hosts) == 6 and all(h["instance_id"].endswith("-id") for h in hosts)


def test_with_enough_azs_every_copy_of_a_shard_has_its_own_az() -> None:
    base = stack_file("staging")
    config = dataclasses.replace(
        base,
        network=dataclasses.replace(base.network, availability_zones=3),
        redis=dataclasses.replace(base.redis, replicas_per_shard=2),
        kafka=dataclasses.replace(base.kafka, brokers=3),  # MSK: a broker per AZ
    )
    stack_config.validate(config)
    zones_by_shard: dict[str, list[str]] = {}
    for node in run_program(config).mocks.of_type("aws:ec2/instance:Instance"):
        tags = node.inputs["tags"]
        if tags["recstack:group"] == "redis":
            zones_by_shard.setdefault(tags["recstack:shard"], []).append(
                node.state["availabilityZone"]
            )
    assert len(zones_by_shard) == 3
    for shard, zones in zones_by_shard.items():
        assert len(zones) == 3 and len(set(zones)) == 3, shard


@pytest.mark.parametrize("kafka_auth", KAFKA_AUTHS)
def test_elasticache_is_encrypted_replicated_and_fails_over(kafka_auth: str) -> None:
    mocks = run("elasticache", kafka_auth).mocks
    (group,) = mocks.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    inputs = group.inputs
    assert inputs["transitEncryptionEnabled"] is True
    assert inputs["atRestEncryptionEnabled"] is True
    assert inputs["kmsKeyId"].startswith("arn:")
    assert inputs["automaticFailoverEnabled"] is True
    assert inputs["multiAzEnabled"] is True
    assert (inputs["numNodeGroups"], inputs["replicasPerNodeGroup"]) == (3, 1)
    # The token reaches the engine as a secret, so state never holds it in plain text.
    assert inputs["authToken"][SECRET_SIGNATURE] == SECRET_MARKER
    assert inputs["authToken"]["value"] == "mock-password"
    (parameters,) = mocks.of_type("aws:elasticache/parameterGroup:ParameterGroup")
    assert {"name": "cluster-enabled", "value": "yes"} in parameters.inputs["parameters"]
    assert not [
        i
        for i in mocks.of_type("aws:ec2/instance:Instance")
        if i.inputs["tags"]["recstack:group"] == "redis"
    ]


@pytest.mark.parametrize("kafka_auth", KAFKA_AUTHS)
def test_redis_cloud_has_search_and_is_peered_into_every_private_route_table(
    kafka_auth: str,
) -> None:
    config = combination("redis_cloud", kafka_auth)
    mocks = run("redis_cloud", kafka_auth).mocks
    (database,) = mocks.of_type("rediscloud:index/subscriptionDatabase:SubscriptionDatabase")
    assert database.inputs["modules"] == [{"name": "RediSearch"}]
    assert database.inputs["enableTls"] is True
    assert database.inputs["sourceIps"] == [config.network.cidr]
    (subscription,) = mocks.of_type("rediscloud:index/subscription:Subscription")
    (region,) = subscription.inputs["cloudProvider"]["regions"]
    # Two AZs in staging: Redis Cloud's multi-AZ needs three, so one zone, by zone id.
    assert region["multipleAvailabilityZones"] is False
    assert region["preferredAvailabilityZones"] == ["use1-az0"]
    (peering,) = mocks.of_type("rediscloud:index/subscriptionPeering:SubscriptionPeering")
    assert peering.inputs["vpcCidr"] == config.network.cidr
    routes = mocks.of_type("aws:ec2/route:Route")
    assert len(routes) == config.network.availability_zones
    assert {r.inputs["destinationCidrBlock"] for r in routes} == {
        config.redis.redis_cloud.deployment_cidr
    }


@pytest.mark.parametrize(("redis_mode", "kafka_auth"), ALL_RUNS)
def test_msk_is_tls_only_authenticated_and_sized_for_embedding_updates(
    redis_mode: str, kafka_auth: str
) -> None:
    config = combination(redis_mode, kafka_auth)
    mocks = run(redis_mode, kafka_auth).mocks
    (cluster,) = mocks.of_type("aws:msk/cluster:Cluster")
    inputs = cluster.inputs
    assert inputs["encryptionInfo"]["encryptionInTransit"] == {
        "clientBroker": "TLS",
        "inCluster": True,
    }
    assert inputs["encryptionInfo"]["encryptionAtRestKmsKeyArn"].startswith("arn:")
    assert inputs["clientAuthentication"]["unauthenticated"] is False
    assert inputs["clientAuthentication"]["sasl"] == {
        "iam": kafka_auth == "iam",
        "scram": kafka_auth == "scram",
    }
    assert inputs["numberOfBrokerNodes"] % config.network.availability_zones == 0
    assert len(inputs["brokerNodeGroupInfo"]["clientSubnets"]) == config.network.availability_zones
    (configuration,) = mocks.of_type("aws:msk/configuration:Configuration")
    properties = configuration.inputs["serverProperties"]
    assert "auto.create.topics.enable=false" in properties
    assert f"message.max.bytes={config.kafka.message_max_bytes}" in properties


def test_msk_with_scram_stores_its_credentials_in_a_kms_encrypted_secret() -> None:
    result = run("elasticache", "scram")
    (secret,) = result.mocks.of_type("aws:secretsmanager/secret:Secret")
    assert secret.inputs["namePrefix"].startswith("AmazonMSK_")
    assert secret.inputs["kmsKeyId"].startswith("arn:")
    assert result.mocks.of_type("aws:msk/singleScramSecretAssociation:SingleScramSecretAssociation")
    kafka = result.outputs["inventory"]["variables"]["recstack_kafka"]
    assert kafka["credentials_secret"] == secret.state["arn"]
    assert not run("elasticache", "iam").mocks.of_type("aws:secretsmanager/secret:Secret")


@pytest.mark.parametrize("kafka_auth", KAFKA_AUTHS)
def test_the_kafka_endpoint_is_msk_on_the_auth_modes_contract_port(kafka_auth: str) -> None:
    kafka = run("selfhosted", kafka_auth).outputs["inventory"]["variables"]["recstack_kafka"]
    assert (kafka["auth"], kafka["tls"], kafka["region"]) == (kafka_auth, True, "us-east-1")
    brokers = kafka["bootstrap"].split(",")
    assert brokers and all(b.endswith(f":{PORTS.msk(kafka_auth)}") for b in brokers)
    assert bool(kafka["credentials_secret"]) == (kafka_auth == "scram")


@pytest.mark.parametrize(("redis_mode", "kafka_auth"), ALL_RUNS)
def test_buckets_are_versioned_encrypted_private_and_tls_only(
    redis_mode: str, kafka_auth: str
) -> None:
    mocks = run(redis_mode, kafka_auth).mocks
    buckets = mocks.of_type("aws:s3/bucket:Bucket")
    assert len(buckets) == 4
    for kind in (
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    ):
        assert {r.inputs["bucket"] for r in mocks.of_type(kind)} == {
            f"{b.name}-id" for b in buckets
        }, kind
    for policy in mocks.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        assert '"aws:SecureTransport": "false"' in policy.inputs["policy"]
    (key,) = mocks.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True


@pytest.mark.parametrize(("redis_mode", "kafka_auth"), ALL_RUNS)
def test_every_tagged_resource_carries_the_required_tags(redis_mode: str, kafka_auth: str) -> None:
    config = combination(redis_mode, kafka_auth)
    tagged = [r for r in run(redis_mode, kafka_auth).mocks.resources if "tags" in r.inputs]
    assert len(tagged) > 50
    for resource in tagged:
        tags = resource.inputs["tags"]
        if isinstance(tags, list):  # auto scaling groups take a list of tag objects
            tags = {t["key"]: t["value"] for t in tags}
        assert config.tags.items() <= tags.items(), resource.name


@pytest.mark.parametrize(("redis_mode", "kafka_auth"), ALL_RUNS)
def test_inventory_document_shape(redis_mode: str, kafka_auth: str) -> None:
    config = combination(redis_mode, kafka_auth)
    result = run(redis_mode, kafka_auth)
    inventory = result.outputs["inventory"]
    assert set(inventory) == {"stack", "region", "connection", "groups", "variables"}
    assert inventory["connection"] == {
        "plugin": "community.aws.aws_ssm",
        "region": "us-east-1",
        "bucket": "recstack-staging-transfer-mock",
    }
    groups = inventory["groups"]
    assert set(groups) == {"triton", "trainer", "redis"}  # MSK runs the brokers
    assert groups["triton"]["instance_filters"] == {
        "tag:recstack:group": "triton",
        "tag:stack": "staging",
    }
    assert len(groups["trainer"]["hosts"]) == config.trainer.count
    redis_hosts = groups["redis"]["hosts"]
    assert len(redis_hosts) == (config.redis_nodes if redis_mode == "selfhosted" else 0)
    variables = inventory["variables"]
    assert variables["recstack_environment"] == "staging"
    assert variables["recstack_redis_mode"] == redis_mode
    assert variables["recstack_triton_hosts"] == ["recstack-staging-triton.elb.mock"]
    assert variables["recstack_serving_gpu"] is True
    # One connection structure for every mode, as the contract defines it.
    connection = RedisConnection.from_mapping(variables["recstack_redis"])
    expected = {
        "selfhosted": RedisConnection(
            tuple(h["private_ip"] for h in redis_hosts), cluster=True, user=ACL_USER
        ),
        "elasticache": RedisConnection(
            ("recstack-staging-redis.cache.mock",), cluster=True, tls=True
        ),
        # The mock's database port; Redis Enterprise's proxy is not a cluster to clients.
        "redis_cloud": RedisConnection(("redis-12345.internal.mock",), 12345, tls=True),
    }[redis_mode]
    assert connection == expected
    server_variables = {"redis_cluster_enabled", "redis_cluster_replicas", "redis_acl_user"}
    assert (server_variables <= set(variables)) == (redis_mode == "selfhosted")
    assert set(result.outputs["buckets"]) == {"models", "features", "registry", "transfer"}
    # The password is a secret output of its own, never part of the document.
    assert "mock-password" not in str(inventory)
    assert result.outputs["redis_password"] == "mock-password"


def test_prod_is_multi_az_with_managed_data_tiers() -> None:
    config = stack_file("prod")
    mocks = run_stack("prod").mocks
    assert len(mocks.of_type("aws:ec2/natGateway:NatGateway")) == 3
    assert len(mocks.of_type("aws:elasticache/replicationGroup:ReplicationGroup")) == 1
    assert len(mocks.of_type("aws:msk/cluster:Cluster")) == 1
    instances = mocks.of_type("aws:ec2/instance:Instance")
    assert {i.inputs["tags"]["recstack:group"] for i in instances} == {"trainer"}
    zones = {s.inputs["availabilityZone"] for s in mocks.of_type("aws:ec2/subnet:Subnet")}
    assert len(zones) == config.network.availability_zones == 3
    vpc = ipaddress.IPv4Network(config.network.cidr)
    for subnet in mocks.of_type("aws:ec2/subnet:Subnet"):
        assert ipaddress.IPv4Network(subnet.inputs["cidrBlock"]).subnet_of(vpc)


def test_resources_are_parented_to_their_components() -> None:
    result = run_stack("staging")
    loose = [
        key
        for key, declared in result.options.items()
        if not declared.parented and not key[0].startswith("recstack:aws:")
    ]
    # The generated Redis password is the stack's own secret, not any component's.
    assert loose == [
        ("random:index/randomPassword:RandomPassword", "recstack-staging-redis-password")
    ]
    assert {key[0] for key in result.options if key[0].startswith("recstack:aws:")} >= {
        "recstack:aws:Network",
        "recstack:aws:SecurityGroups",
        "recstack:aws:Storage",
        "recstack:aws:InstanceRoles",
        "recstack:aws:ServingFleet",
        "recstack:aws:Trainers",
        "recstack:aws:SelfHostedRedis",
        "recstack:aws:Msk",
    }


def test_hosts_wait_for_the_network_and_survive_new_amis() -> None:
    config = stack_file("staging")
    result = run_stack("staging")
    hosts = {k: v for k, v in result.options.items() if k[0] == "aws:ec2/instance:Instance"}
    assert len(hosts) == config.trainer.count + config.redis_nodes == 7
    # The NAT gateways, each private subnet's route to them, and the S3 endpoint.
    egress = config.nat_gateways + config.network.availability_zones + 1
    for key, declared in hosts.items():
        assert declared.ignore_changes == ("ami",), key
        assert declared.depends_on == egress, key
    (group,) = [v for k, v in result.options.items() if k[0] == "aws:autoscaling/group:Group"]
    assert group.ignore_changes == ("desired_capacity",)


def test_names_fit_aws_limits_for_the_longest_allowed_stack_name() -> None:
    """Pulumi auto-names target groups and load balancers within 32 characters (name,
    '-', 7 random characters); bucket prefixes may have 37."""
    base = stack_file("staging")
    longest = "s" * (stack_config.MAX_PREFIX - len(base.project) - 1)
    config = dataclasses.replace(base, stack=longest)
    stack_config.validate(config)
    mocks = run_program(config).mocks
    for kind in ("aws:lb/targetGroup:TargetGroup", "aws:lb/loadBalancer:LoadBalancer"):
        for resource in mocks.of_type(kind):
            assert len(resource.name) + 8 <= 32, resource.name
    for bucket in mocks.of_type("aws:s3/bucket:Bucket"):
        assert len(bucket.inputs["bucketPrefix"]) <= 37, bucket.inputs["bucketPrefix"]
