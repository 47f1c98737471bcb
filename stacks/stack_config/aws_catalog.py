"""What AWS offers, as far as config validation needs to know without an AWS account.

EC2 instance types and regions come from the botocore release pinned in
stacks/requirements.txt and constraints.txt (its EC2 model enumerates every instance
type). GPU families, and the node families of ElastiCache and MSK (which botocore does not
enumerate), are tables maintained here; extend them when AWS adds a family.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import botocore.session


@dataclass(frozen=True)
class GpuFamily:
    gpu: str
    memory_gib_per_gpu: int


# NVIDIA GPU instance families Triton with HugeCTR can serve from (x86_64). Only Turing
# and later: the Deep Learning Base AMI's open-source NVIDIA kernel modules need them.
GPU_FAMILIES: dict[str, GpuFamily] = {
    "g4dn": GpuFamily("T4", 16),
    "g5": GpuFamily("A10G", 24),
    "g6": GpuFamily("L4", 24),
    "gr6": GpuFamily("L4", 24),
    "g6e": GpuFamily("L40S", 48),
    "p4d": GpuFamily("A100", 40),
    "p4de": GpuFamily("A100", 80),
    "p5": GpuFamily("H100", 80),
    "p5e": GpuFamily("H200", 141),
    "p5en": GpuFamily("H200", 141),
}

# Current-generation node families and sizes (cache.<family>.<size>; kafka.<family>.<size>).
ELASTICACHE_SIZES: dict[str, frozenset[str]] = {
    "t4g": frozenset({"micro", "small", "medium"}),
    **{
        family: frozenset(
            {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"}
        )
        for family in ("m6g", "m7g", "r6g", "r7g", "m5", "r5")
    },
}
MSK_SIZES: dict[str, frozenset[str]] = {
    "t3": frozenset({"small"}),
    **{
        family: frozenset(
            {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"}
        )
        for family in ("m5", "m7g")
    },
}


@functools.cache
def _session() -> botocore.session.Session:
    # Imported on first look-up: botocore is slow to import, and the CLI imports this
    # package for every command, though only `recstack cost` validates a stack.
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def ec2_instance_types() -> frozenset[str]:
    model = _session().get_service_model("ec2")
    return frozenset(model.shape_for("InstanceType").enum)


@functools.cache
def regions() -> frozenset[str]:
    return frozenset(_session().get_available_regions("ec2"))


def family(instance_type: str) -> str:
    """'g5.xlarge' -> 'g5'; 'cache.r7g.large' -> 'r7g'; 'kafka.m7g.large' -> 'm7g'."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) == 3 else parts[0]


def gpu_family(instance_type: str) -> GpuFamily | None:
    return GPU_FAMILIES.get(family(instance_type))


def describe_gpu_families() -> str:
    """'g4dn (T4, 16 GiB), g5 (A10G, 24 GiB), ...' for error messages and docs."""
    return ", ".join(
        f"{name} ({f.gpu}, {f.memory_gib_per_gpu} GiB)" for name, f in GPU_FAMILIES.items()
    )


def is_arm(instance_type: str) -> bool:
    """Graviton (Arm) families carry a 'g' right after the generation digit: c7g, r7gd,
    t4g, and the GPU family g5g."""
    return re.fullmatch(r"[a-z]+\d+g[a-z]*", family(instance_type)) is not None


def is_node_type(node_type: str, prefix: str, sizes: dict[str, frozenset[str]]) -> bool:
    parts = node_type.split(".")
    return len(parts) == 3 and parts[0] == prefix and parts[2] in sizes.get(parts[1], ())


def is_elasticache_node_type(node_type: str) -> bool:
    return is_node_type(node_type, "cache", ELASTICACHE_SIZES)


def is_msk_broker_type(broker_type: str) -> bool:
    return is_node_type(broker_type, "kafka", MSK_SIZES)
