"""The Pulumi program under mocks: every resource it declares is recorded with its inputs,
and the mocks answer the few AWS look-ups the program makes. The stacks' tests use it,
and so does `stacks/mock_outputs.py`, which gives the rehearsal and the kit's own tests
a stack's outputs without an AWS account.

Import it with stacks/ on sys.path (as the Pulumi program runs).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pulumi

import stack_config
from recstack_contract.ports import PORTS

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]


@dataclasses.dataclass
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]


def volume_id(instance: str, device: str) -> str:
    """The id EC2 would give an instance's volume: the same for the same instance and
    device in every run, another for every other."""
    return "vol-" + hashlib.sha256(f"{instance}:{device}".encode()).hexdigest()[:17]


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self._zone_of_subnet: dict[str, str] = {}
        self._next_ip = 10

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        resource_id = f"{args.name}-id"
        state = {**args.inputs, "arn": f"arn:aws:mock:us-east-1:123456789012:{args.name}"}
        state.update(self._computed(args, resource_id))
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), state))
        return resource_id, state

    def _computed(self, args: pulumi.runtime.MockResourceArgs, resource_id: str) -> dict[str, Any]:
        inputs = args.inputs
        match args.typ:
            case "aws:ec2/subnet:Subnet":
                self._zone_of_subnet[resource_id] = inputs["availabilityZone"]
                return {}
            case "aws:ec2/instance:Instance":
                self._next_ip += 1
                return {
                    "privateIp": f"10.60.0.{self._next_ip}",
                    "availabilityZone": self._zone_of_subnet[inputs["subnetId"]],
                    "ebsBlockDevices": [
                        {**device, "volumeId": volume_id(args.name, device["deviceName"])}
                        for device in inputs.get("ebsBlockDevices", [])
                    ],
                }
            case "aws:s3/bucket:Bucket":
                return {"bucket": f"{inputs['bucketPrefix']}mock"}
            case "aws:lb/loadBalancer:LoadBalancer":
                return {"dnsName": f"{args.name}.elb.mock"}
            case "aws:ec2/launchTemplate:LaunchTemplate":
                return {"latestVersion": 1}
            case "aws:autoscaling/group:Group":
                return {"name": args.name}
            case "aws:iam/instanceProfile:InstanceProfile" | "aws:iam/role:Role":
                return {"name": args.name}
            case "aws:elasticache/replicationGroup:ReplicationGroup":
                return {"configurationEndpointAddress": f"{args.name}.cache.mock"}
            case "aws:msk/configuration:Configuration":
                return {"latestRevision": 1}
            case "aws:msk/cluster:Cluster":
                return {
                    "bootstrapBrokersSaslIam": f"b-1.mock:{PORTS.msk_iam},b-2.mock:{PORTS.msk_iam}",
                    "bootstrapBrokersSaslScram": (
                        f"b-1.mock:{PORTS.msk_scram},b-2.mock:{PORTS.msk_scram}"
                    ),
                }
            case "random:index/randomPassword:RandomPassword":
                return {"result": "mock-password"}
            case "rediscloud:index/subscriptionDatabase:SubscriptionDatabase":
                return {"privateEndpoint": "redis-12345.internal.mock:12345"}
            case "rediscloud:index/subscriptionPeering:SubscriptionPeering":
                return {"awsPeeringId": "pcx-mock"}
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list] | dict:
        match args.token:
            case "aws:index/getAvailabilityZones:getAvailabilityZones":
                return {"names": ZONES, "zoneIds": [f"use1-az{i}" for i in range(len(ZONES))]}
            case "aws:ssm/getParameter:getParameter":
                return {"name": args.args["name"], "value": "ami-0mock", "type": "String"}
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    "accountId": "123456789012",
                    "arn": "arn:aws:iam::123456789012:root",
                    "userId": "u",
                }
        raise NotImplementedError(f"the program made an unexpected call: {args.token}")

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def as_policy_input(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(type, name, props) as policy.check.violations takes them; ids let the stack
        rule match buckets to their public access blocks and encryption settings."""
        return [(r.type, r.name, {**r.inputs, "id": f"{r.name}-id"}) for r in self.resources]


@dataclasses.dataclass(frozen=True)
class Declared:
    """The resource options the program gave a resource (mocks do not see options)."""

    parented: bool
    ignore_changes: tuple[str, ...]
    depends_on: int


@dataclasses.dataclass
class ProgramRun:
    mocks: RecordingMocks
    outputs: dict[str, Any]
    # (type, name) -> options, recorded by a stack transformation as resources are built.
    options: dict[tuple[str, str], Declared]


def run_program(config: stack_config.StackConfig) -> ProgramRun:
    """Declare the whole stack for `config` under fresh mocks and wait for every output."""
    from program import deploy

    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="recstack", stack=config.stack, preview=False)
    outputs: dict[str, Any] = {}
    options: dict[tuple[str, str], Declared] = {}
    _OPTIONS_SINK["current"] = options

    @pulumi.runtime.test
    def declare() -> pulumi.Output:
        _record_options_once()
        values = deploy(config, None)
        return pulumi.Output.all(**values).apply(outputs.update)

    declare()
    return ProgramRun(mocks, outputs, options)


# The root stack resource outlives set_mocks, and transformations cannot be removed: one
# recorder is registered per root and writes into the current run's dictionary.
_OPTIONS_SINK: dict[str, Any] = {"current": None, "root": None}


def _record_options_once() -> None:
    root = pulumi.runtime.get_root_resource()
    if _OPTIONS_SINK["root"] is root:
        return
    _OPTIONS_SINK["root"] = root
    pulumi.runtime.register_stack_transformation(_record_options)


def _record_options(args: pulumi.ResourceTransformationArgs) -> None:
    opts = args.opts or pulumi.ResourceOptions()
    _OPTIONS_SINK["current"][(args.type_, args.name)] = Declared(
        parented=opts.parent is not None,
        ignore_changes=tuple(opts.ignore_changes or ()),
        depends_on=len(opts.depends_on or []),
    )


def stack_file(stack: str) -> stack_config.StackConfig:
    return stack_config.from_stack_file(PROJECT_ROOT / f"Pulumi.{stack}.yaml")
