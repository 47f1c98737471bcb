"""The trainer hosts: pipelines, training and the Feast materialization run here."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from hosts import HostSpec, describe, host


@dataclass
class TrainerArgs:
    count: int
    instance_type: str
    data_volume_gb: int
    root_volume_gb: int
    ami_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    instance_profile: pulumi.Input[str]
    region: str
    tags: dict[str, str]


class Trainers(pulumi.ComponentResource):
    def __init__(self, name: str, args: TrainerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("recstack:aws:Trainers", name, None, opts)
        nodes = []
        for index in range(args.count):
            instance = host(
                HostSpec(
                    name=f"{name}-{index}",
                    group="trainer",
                    instance_type=args.instance_type,
                    subnet_id=args.subnet_ids[index % len(args.subnet_ids)],
                    security_group_id=args.security_group_id,
                    instance_profile=args.instance_profile,
                    ami_id=args.ami_id,
                    region=args.region,
                    root_volume_gb=args.root_volume_gb,
                    data_volume_gb=args.data_volume_gb,
                    tags=args.tags,
                ),
                parent=self,
            )
            nodes.append(describe(instance))
        self.nodes = pulumi.Output.all(*nodes)
        self.register_outputs({"nodes": self.nodes})
