"""The serving interface: the ensemble clients call, and who may use Triton's admin APIs."""

from __future__ import annotations

from typing import Any

from .secrets import TRITON_ADMIN_TOKEN

# The multi-stage ensemble, called like the reference example.
ENSEMBLE = "ensemble-model"

# Triton's API groups (--http-restricted-api / --grpc-restricted-protocol) that need the
# admin header: everything but inference, health and metadata, which clients use.
RESTRICTED_APIS: tuple[str, ...] = (
    "model-repository",
    "model-config",
    "shared-memory",
    "logging",
    "trace",
    "statistics",
)
OPEN_APIS: tuple[str, ...] = ("inference", "health", "metadata")
# The header's name; its value is the environment's secret `triton_admin_token`.
ADMIN_HEADER = "recstack-admin-token"
# Over gRPC, Triton matches restricted-protocol headers only with this prefix.
ADMIN_GRPC_HEADER = f"triton-grpc-protocol-{ADMIN_HEADER}"


def as_dict() -> dict[str, Any]:
    return {
        "ensemble": ENSEMBLE,
        "restricted_apis": list(RESTRICTED_APIS),
        "open_apis": list(OPEN_APIS),
        "admin_header": ADMIN_HEADER,
        "admin_grpc_header": ADMIN_GRPC_HEADER,
        "admin_secret": TRITON_ADMIN_TOKEN.name,
    }
