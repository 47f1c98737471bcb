"""The trainer hosts: pipelines, training and the Feast materialization run here."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from hosts import HostPool, describe


@dataclass
class TrainerArgs:
    pool: HostPool
    count: int


class Trainers(pulumi.ComponentResource):
    def __init__(self, name: str, args: TrainerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("recstack:aws:Trainers", name, None, opts)
        self.nodes = pulumi.Output.all(
            *(describe(args.pool.host(f"{name}-{i}", i, self)) for i in range(args.count))
        )
        self.register_outputs({"nodes": self.nodes})
