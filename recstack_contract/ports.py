"""Service ports: what servers listen on, what security groups open and clients dial."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Ports:
    redis: int = 6379
    # Redis's own convention (cluster-port 0 = port + 10000): gossip and failover
    # between self-hosted cluster nodes.
    redis_cluster_bus: int = 16379
    # The local/testbed broker's PLAINTEXT listener.
    kafka: int = 9092
    # Fixed by MSK: TLS with SASL/SCRAM, and TLS with IAM.
    msk_scram: int = 9096
    msk_iam: int = 9098
    triton_http: int = 8000
    triton_grpc: int = 8001
    triton_metrics: int = 8002

    def msk(self, auth: str) -> int:
        """The MSK client port of an authentication mode (`iam` or `scram`)."""
        return {"iam": self.msk_iam, "scram": self.msk_scram}[auth]

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


PORTS = Ports()
