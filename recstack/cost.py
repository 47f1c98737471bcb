"""On-demand cost of a cloud stack, from the pinned price table in prices.yaml.

It counts exactly what the Pulumi program creates, with quantities taken from the same
StackConfig properties the program uses (nat_gateways, redis_nodes, ...), so that a
reviewer sees what a config change costs before `pulumi up`. Usage-priced charges depend
on traffic, not on config, and are listed as not estimated instead of guessed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from stacks.stack_config import SSM_ENDPOINT_SERVICES, StackConfig

PRICES_FILE = Path(__file__).with_name("prices.yaml")

NOT_ESTIMATED = (
    "data transfer (internet egress, cross-AZ traffic, Redis Cloud peering)",
    "NAT gateway and VPC endpoint per-GB processing, NLB LCU charges",
    "S3 storage and requests",
    "KMS and Secrets Manager requests",
    "ElastiCache backup storage beyond the free allowance",
    "surplus CPU credits of burstable (t3) instances",
)


class CostError(Exception):
    """The stack cannot be priced from the table: say what to add where."""


class RegionNotPriced(CostError):
    pass


class PriceMissing(CostError):
    pass


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    region: str
    currency: str
    source: str
    hours_per_month: float
    ec2: Mapping[str, float]
    elasticache: Mapping[str, float]
    msk_brokers: Mapping[str, float]
    msk_storage_gb_month: float
    gp3_gb_month: float
    kms_key_month: float
    secret_month: float
    nat_gateway_hour: float
    nlb_hour: float
    interface_endpoint_az_hour: float
    public_ipv4_hour: float


@dataclass(frozen=True)
class LineItem:
    component: str
    item: str
    quantity: float
    unit: str  # what unit_price is charged per: "instance-hour", "GB-month", ...
    unit_price: float
    hourly: float
    monthly: float


@dataclass(frozen=True)
class CostReport:
    stack: str
    region: str
    currency: str
    prices_as_of: str
    prices_source: str
    hours_per_month: float
    lines: tuple[LineItem, ...]
    hourly: float
    monthly: float
    notes: tuple[str, ...]
    not_estimated: tuple[str, ...] = NOT_ESTIMATED

    def by_component(self) -> dict[str, list[LineItem]]:
        groups: dict[str, list[LineItem]] = {}
        for line in self.lines:
            groups.setdefault(line.component, []).append(line)
        return groups


@functools.cache
def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    raw = yaml.safe_load(path.read_text()) or {}

    def get(*keys: str) -> Any:
        node = raw
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise CostError(f"{path} has no {'.'.join(keys)}; see the file's header")
            node = node[key]
        return node

    def prices(*keys: str) -> Mapping[str, float]:
        return MappingProxyType({name: float(value) for name, value in get(*keys).items()})

    return PriceTable(
        as_of=str(get("as_of")),  # YAML reads the date as a date
        region=get("region"),
        currency=get("currency"),
        source=" ".join(str(get("source")).split()),
        hours_per_month=float(get("hours_per_month")),
        ec2=prices("ec2"),
        elasticache=prices("elasticache"),
        msk_brokers=prices("msk", "brokers"),
        msk_storage_gb_month=float(get("msk", "storage_gb_month")),
        gp3_gb_month=float(get("ebs", "gp3_gb_month")),
        kms_key_month=float(get("kms", "key_month")),
        secret_month=float(get("secrets_manager", "secret_month")),
        nat_gateway_hour=float(get("network", "nat_gateway_hour")),
        nlb_hour=float(get("network", "nlb_hour")),
        interface_endpoint_az_hour=float(get("network", "interface_endpoint_az_hour")),
        public_ipv4_hour=float(get("network", "public_ipv4_hour")),
    )


class _Lines:
    """Builds line items so that monthly is always hourly x hours_per_month."""

    def __init__(self, prices: PriceTable) -> None:
        self.prices = prices
        self.items: list[LineItem] = []

    def hourly(self, component: str, item: str, quantity: float, unit: str, price: float) -> None:
        self._add(component, item, quantity, unit, price, quantity * price)

    def monthly(self, component: str, item: str, quantity: float, unit: str, price: float) -> None:
        hourly = quantity * price / self.prices.hours_per_month
        self._add(component, item, quantity, unit, price, hourly)

    def _add(
        self, component: str, item: str, quantity: float, unit: str, price: float, hourly: float
    ) -> None:
        monthly = hourly * self.prices.hours_per_month
        self.items.append(LineItem(component, item, quantity, unit, price, hourly, monthly))

    def price(self, section: str, table: Mapping[str, float], name: str, key: str) -> float:
        if name not in table:
            raise PriceMissing(
                f"no {section} price for {name!r} (from recstack:{key}) in {PRICES_FILE}; add "
                f"its {self.prices.region} on-demand hourly price under `{section}:`"
            )
        return table[name]

    def hosts(
        self, component: str, count: int, instance_type: str, key: str, gb: int, role: str = ""
    ) -> float:
        """EC2 instances and their gp3 volumes (`gb` per instance, root and data together);
        returns what one more such instance costs an hour, volumes included."""
        price = self.price("ec2", self.prices.ec2, instance_type, key)
        item = f"{instance_type} ({role})" if role else instance_type
        self.hourly(component, item, count, "instance-hour", price)
        gp3 = self.prices.gp3_gb_month
        self.monthly(component, f"gp3 volumes, {gb} GB each", count * gb, "GB-month", gp3)
        return price + gb * gp3 / self.prices.hours_per_month


def estimate(config: StackConfig, prices: PriceTable | None = None) -> CostReport:
    prices = prices or load_prices()
    if config.region != prices.region:
        raise RegionNotPriced(
            f"stack {config.stack} runs in {config.region} but {PRICES_FILE} prices "
            f"{prices.region} only; prices differ by region, so extend it with {config.region} "
            f"prices instead of reusing the {prices.region} figures"
        )
    lines = _Lines(prices)
    root = config.hosts.root_volume_gb

    serving = config.serving
    per_serving_instance = lines.hosts(
        "serving",
        serving.desired_capacity,
        serving.instance_type,
        "serving.instanceType",
        serving.root_volume_gb + serving.data_volume_gb,
    )
    trainer = config.trainer
    lines.hosts(
        "trainer",
        trainer.count,
        trainer.instance_type,
        "trainer.instanceType",
        root + trainer.data_volume_gb,
    )
    _redis(lines, config)
    _kafka(lines, config)
    _network(lines, config)
    # Not a StackConfig property: storage.py creates exactly one customer-managed key, shared
    # by the buckets, ElastiCache, MSK and secrets.
    lines.monthly("storage", "KMS key (customer-managed)", 1, "key-month", prices.kms_key_month)

    items = tuple(lines.items)
    return CostReport(
        stack=config.stack,
        region=config.region,
        currency=prices.currency,
        prices_as_of=prices.as_of,
        prices_source=prices.source,
        hours_per_month=prices.hours_per_month,
        lines=items,
        hourly=sum(line.hourly for line in items),
        monthly=sum(line.monthly for line in items),
        notes=_scale_out_note(config, prices, per_serving_instance),
    )


def _redis(lines: _Lines, config: StackConfig) -> None:
    redis = config.redis
    shape = f"{redis.shards} shards x {1 + redis.replicas_per_shard} nodes"
    if redis.mode == "selfhosted":
        lines.hosts(
            "redis",
            config.redis_nodes,
            redis.instance_type,
            "redis.instanceType",
            config.hosts.root_volume_gb + redis.data_volume_gb,
            role=shape,
        )
    elif redis.mode == "elasticache":
        price = lines.price(
            "elasticache", lines.prices.elasticache, redis.node_type, "redis.nodeType"
        )
        lines.hourly(
            "redis", f"{redis.node_type} ({shape})", config.redis_nodes, "node-hour", price
        )
    else:
        # Redis Cloud bills through Redis Inc. (or the marketplace): no AWS list price.
        lines.hourly(
            "redis", "Redis Cloud: billed by Redis Inc., not priced here", 1, "subscription", 0.0
        )


def _kafka(lines: _Lines, config: StackConfig) -> None:
    kafka = config.kafka
    price = lines.price("msk", lines.prices.msk_brokers, kafka.broker_type, "kafka.brokerType")
    lines.hourly("kafka", f"MSK {kafka.broker_type}", kafka.brokers, "broker-hour", price)
    lines.monthly(
        "kafka",
        f"MSK storage, {kafka.volume_gb} GB per broker",
        kafka.brokers * kafka.volume_gb,
        "GB-month",
        lines.prices.msk_storage_gb_month,
    )
    if kafka.auth == "scram":  # the SCRAM user's credentials live in Secrets Manager
        price = lines.prices.secret_month
        lines.monthly("kafka", "Secrets Manager secret (SCRAM user)", 1, "secret-month", price)


def _network(lines: _Lines, config: StackConfig) -> None:
    prices, net = lines.prices, config.network
    lines.hourly(
        "network", "NAT gateways", config.nat_gateways, "gateway-hour", prices.nat_gateway_hour
    )
    scheme = "internet-facing" if net.public_load_balancer else "internal"
    lines.hourly("network", f"NLB ({scheme})", 1, "LB-hour", prices.nlb_hour)
    services = len(SSM_ENDPOINT_SERVICES)  # the S3 gateway endpoint is free
    lines.hourly(
        "network",
        f"{services} SSM interface endpoints x {net.availability_zones} AZs",
        services * net.availability_zones,
        "endpoint-AZ-hour",
        prices.interface_endpoint_az_hour,
    )
    # Not a StackConfig property yet: one Elastic IP per NAT gateway, and an internet-facing
    # NLB takes one public address per AZ.
    addresses = config.nat_gateways + (net.availability_zones if net.public_load_balancer else 0)
    holders = "NAT gateways, NLB" if net.public_load_balancer else "NAT gateways"
    lines.hourly(
        "network", f"public IPv4 ({holders})", addresses, "address-hour", prices.public_ipv4_hour
    )


def _scale_out_note(
    config: StackConfig, prices: PriceTable, per_instance: float
) -> tuple[str, ...]:
    """The estimate counts desiredCapacity; a reviewer also needs the ceiling maxSize allows."""
    serving = config.serving
    extra = serving.max_size - serving.desired_capacity
    if extra <= 0:
        return ()
    hourly = extra * per_instance
    return (
        f"serving can scale out to maxSize {serving.max_size}: up to +{hourly:,.2f} "
        f"{prices.currency}/hour (+{hourly * prices.hours_per_month:,.0f} {prices.currency}/month)",
    )
