"""`recstack cost` prices what the program declares: its quantities equal the resources
the program creates under mocks, for every Redis mode x MSK authentication and both
committed stacks."""

from __future__ import annotations

import pytest
from conftest import ProgramRun, stack_file
from test_program import ALL_RUNS, combination, run, run_stack

from recstack import cost


def _quantity(report: cost.CostReport, unit: str) -> float:
    return sum(line.quantity for line in report.lines if line.unit == unit)


def _declared(result: ProgramRun) -> dict[str, float]:
    mocks = result.mocks
    (group,) = mocks.of_type("aws:autoscaling/group:Group")
    (template,) = mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    caches = mocks.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    clusters = mocks.of_type("aws:msk/cluster:Cluster")
    endpoints = [
        e
        for e in mocks.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    ]
    return {
        "instance-hour": len(mocks.of_type("aws:ec2/instance:Instance"))
        + group.inputs["desiredCapacity"],
        "gateway-hour": len(mocks.of_type("aws:ec2/natGateway:NatGateway")),
        "endpoint-AZ-hour": sum(len(e.inputs["subnetIds"]) for e in endpoints),
        "node-hour": sum(
            c.inputs["numNodeGroups"] * (1 + c.inputs["replicasPerNodeGroup"]) for c in caches
        ),
        "broker-hour": sum(c.inputs["numberOfBrokerNodes"] for c in clusters),
        "key-month": len(mocks.of_type("aws:kms/key:Key")),
        "secret-month": len(mocks.of_type("aws:secretsmanager/secret:Secret")),
        "gp3 GB-month": sum(_gp3_gb(i.inputs) for i in mocks.of_type("aws:ec2/instance:Instance"))
        + group.inputs["desiredCapacity"] * _gp3_gb(template.inputs),
    }


def _gp3_gb(inputs: dict) -> int:
    """The gp3 GB of one instance (root and EBS devices) or of one launch template."""
    volumes = [inputs.get("rootBlockDevice"), *inputs.get("ebsBlockDevices", [])]
    volumes += [m["ebs"] for m in inputs.get("blockDeviceMappings", [])]
    return sum(v["volumeSize"] for v in volumes if v and v["volumeType"] == "gp3")


def _estimated(report: cost.CostReport) -> dict[str, float]:
    quantities = {
        unit: _quantity(report, unit)
        for unit in (
            "instance-hour",
            "gateway-hour",
            "endpoint-AZ-hour",
            "node-hour",
            "broker-hour",
            "key-month",
            "secret-month",
        )
    }
    quantities["gp3 GB-month"] = sum(
        line.quantity
        for line in report.lines
        if line.unit == "GB-month" and line.item.startswith("gp3")
    )
    return quantities


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_committed_stacks_are_priced_as_declared(stack: str) -> None:
    assert _estimated(cost.estimate(stack_file(stack))) == _declared(run_stack(stack))


@pytest.mark.parametrize(
    ("redis_mode", "kafka_auth"), [r for r in ALL_RUNS if r[0] != "redis_cloud"]
)
def test_every_priced_mode_is_priced_as_declared(redis_mode: str, kafka_auth: str) -> None:
    report = cost.estimate(combination(redis_mode, kafka_auth))
    assert _estimated(report) == _declared(run(redis_mode, kafka_auth))
