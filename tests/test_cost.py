"""`recstack cost`: quantities follow the stack config, arithmetic adds up, errors say what to fix.

Prices are read from the table rather than written here, so refreshing prices.yaml never
breaks these tests; what they pin is what is counted and how.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recstack import cost, stack_files
from recstack.cli import app
from stacks.stack_config import StackConfig

PRICES = cost.load_prices()
HOURS = PRICES.hours_per_month


@pytest.fixture(scope="module")
def staging() -> StackConfig:
    return stack_files.load_stack("staging")


@pytest.fixture(scope="module")
def prod() -> StackConfig:
    return stack_files.load_stack("prod")


def line(report: cost.CostReport, component: str, starts: str) -> cost.LineItem:
    (found,) = [
        item
        for item in report.lines
        if item.component == component and item.item.startswith(starts)
    ]
    return found


def test_the_table_says_what_it_is() -> None:
    assert PRICES.region == "us-east-1"
    assert PRICES.currency == "USD"
    assert HOURS == 730
    assert PRICES.as_of[:4].isdigit() and "not fetched live" in PRICES.source


def test_staging_counts_what_the_program_creates(staging: StackConfig) -> None:
    report = cost.estimate(staging)
    assert line(report, "serving", "g5.xlarge").quantity == 1
    assert line(report, "serving", "gp3").quantity == 100 + 100  # default root + dataVolumeGb
    assert line(report, "trainer", "c7i.xlarge").quantity == 1
    assert line(report, "trainer", "gp3").quantity == 30 + 100  # hosts.rootVolumeGb + data
    assert staging.redis_nodes == 6
    assert line(report, "redis", "t3.medium").quantity == 6  # 3 shards x (1 + 1 replica)
    assert line(report, "redis", "gp3").quantity == 6 * (30 + 20)
    brokers = line(report, "kafka", "MSK kafka.t3.small")
    assert (brokers.quantity, brokers.unit) == (2, "broker-hour")  # one per AZ
    assert line(report, "kafka", "MSK storage").quantity == 2 * 50
    assert line(report, "kafka", "Secrets Manager secret").quantity == 1  # SCRAM
    assert not [item for item in report.lines if item.component == "kafka" and "gp3" in item.item]
    assert line(report, "network", "NAT").quantity == 1
    assert line(report, "network", "NLB").quantity == 1
    assert line(report, "network", "3 SSM interface endpoints").quantity == 3 * 2
    assert line(report, "network", "public IPv4").quantity == 1
    assert line(report, "storage", "KMS key").quantity == 1
    assert {item.component for item in report.lines} == {
        "serving",
        "trainer",
        "redis",
        "kafka",
        "network",
        "storage",
    }


def test_prod_counts_managed_services(prod: StackConfig) -> None:
    report = cost.estimate(prod)
    assert line(report, "serving", "g5.2xlarge").quantity == 3
    assert line(report, "serving", "gp3").quantity == 3 * (100 + 500)
    redis = line(report, "redis", "cache.r7g.xlarge")
    assert (redis.quantity, redis.unit) == (6, "node-hour")
    assert [item.item for item in report.lines if item.component == "redis"] == [redis.item]
    brokers = line(report, "kafka", "MSK kafka.m7g.large")
    assert (brokers.quantity, brokers.unit_price) == (3, PRICES.msk_brokers["kafka.m7g.large"])
    storage = line(report, "kafka", "MSK storage")
    assert (storage.quantity, storage.unit) == (3 * 500, "GB-month")
    assert storage.monthly == pytest.approx(1500 * PRICES.msk_storage_gb_month)
    assert not [item for item in report.lines if "Secrets Manager" in item.item]  # IAM auth
    assert line(report, "network", "NAT").quantity == 3  # one per AZ
    assert line(report, "network", "3 SSM interface endpoints").quantity == 3 * 3
    assert "maxSize 9" in report.notes[0]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_monthly_is_hourly_times_730_and_totals_add_up(stack: str) -> None:
    report = cost.estimate(stack_files.load_stack(stack))
    for item in report.lines:
        assert item.monthly == pytest.approx(item.hourly * HOURS), item
        if item.unit.endswith("-hour"):
            assert item.hourly == pytest.approx(item.quantity * item.unit_price), item
        else:
            assert item.monthly == pytest.approx(item.quantity * item.unit_price), item
    assert report.hourly == pytest.approx(sum(item.hourly for item in report.lines))
    assert report.monthly == pytest.approx(sum(item.monthly for item in report.lines))
    assert report.monthly == pytest.approx(report.hourly * HOURS)
    assert report.hourly > 0


def test_one_more_serving_node_costs_exactly_one_instance_and_its_volumes(
    prod: StackConfig,
) -> None:
    before = cost.estimate(prod)
    serving = dataclasses.replace(prod.serving, desired_capacity=4)
    after = cost.estimate(dataclasses.replace(prod, serving=serving))
    instance = PRICES.ec2["g5.2xlarge"]
    volumes = (100 + 500) * PRICES.gp3_gb_month
    assert after.monthly - before.monthly == pytest.approx(instance * HOURS + volumes)
    instance_lines = [line(r, "serving", "g5.2xlarge").monthly for r in (before, after)]
    assert instance_lines[1] - instance_lines[0] == pytest.approx(instance * HOURS)


def test_msk_scram_adds_its_secret(prod: StackConfig) -> None:
    kafka = dataclasses.replace(prod.kafka, auth="scram")
    report = cost.estimate(dataclasses.replace(prod, kafka=kafka))
    secret = line(report, "kafka", "Secrets Manager secret")
    assert (secret.quantity, secret.monthly) == (1, pytest.approx(PRICES.secret_month))


def test_nat_gateway_per_az_is_one_gateway_per_az(staging: StackConfig) -> None:
    network = dataclasses.replace(staging.network, nat_gateway_per_az=True)
    report = cost.estimate(dataclasses.replace(staging, network=network))
    assert line(report, "network", "NAT").quantity == 2
    assert line(report, "network", "public IPv4").quantity == 2


def test_a_public_load_balancer_adds_its_addresses(staging: StackConfig) -> None:
    network = dataclasses.replace(staging.network, public_load_balancer=True)
    report = cost.estimate(dataclasses.replace(staging, network=network))
    assert line(report, "network", "NLB (internet-facing)").quantity == 1
    assert line(report, "network", "public IPv4").quantity == 1 + 2


def test_redis_cloud_is_a_zero_line_not_a_guess(staging: StackConfig) -> None:
    redis = dataclasses.replace(staging.redis, mode="redis_cloud")
    report = cost.estimate(dataclasses.replace(staging, redis=redis))
    (only,) = [item for item in report.lines if item.component == "redis"]
    assert "billed by Redis Inc., not priced here" in only.item
    assert (only.hourly, only.monthly) == (0, 0)


def test_an_unpriced_type_names_the_type_the_key_and_the_table(staging: StackConfig) -> None:
    trainer = dataclasses.replace(staging.trainer, instance_type="c7i.48xlarge")
    with pytest.raises(cost.PriceMissing) as error:
        cost.estimate(dataclasses.replace(staging, trainer=trainer))
    for part in ("c7i.48xlarge", "recstack:trainer.instanceType", "prices.yaml"):
        assert part in str(error.value)


def test_an_unpriced_managed_node_names_its_key(prod: StackConfig) -> None:
    redis = dataclasses.replace(prod.redis, node_type="cache.m6g.large")
    with pytest.raises(cost.PriceMissing, match=r"cache\.m6g\.large.*recstack:redis\.nodeType"):
        cost.estimate(dataclasses.replace(prod, redis=redis))


def test_another_region_is_refused_not_priced_as_us_east_1(staging: StackConfig) -> None:
    with pytest.raises(cost.RegionNotPriced) as error:
        cost.estimate(dataclasses.replace(staging, region="eu-west-1"))
    for part in ("eu-west-1", "us-east-1", "prices.yaml"):
        assert part in str(error.value)


def test_an_unknown_stack_lists_the_known_ones() -> None:
    with pytest.raises(stack_files.UnknownStack, match=r"Pulumi\.moon\.yaml") as error:
        stack_files.load_stack("moon")
    assert "prod" in str(error.value) and "staging" in str(error.value)
    with pytest.raises(stack_files.UnknownStack):
        stack_files.load_stack("../Pulumi")


def test_cli_prints_the_table_total_and_footer() -> None:
    result = CliRunner().invoke(app, ["cost", "staging"])
    assert result.exit_code == 0, result.output
    report = cost.estimate(stack_files.load_stack("staging"))
    assert f"Total: {report.hourly:,.2f} USD/hour, {report.monthly:,.2f} USD/month" in result.output
    assert PRICES.as_of in result.output
    assert "Not estimated (usage-priced)" in result.output


def test_cli_json_parses() -> None:
    result = CliRunner().invoke(app, ["cost", "prod", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["stack"] == "prod" and data["region"] == "us-east-1"
    assert data["monthly"] == pytest.approx(sum(item["monthly"] for item in data["lines"]))
    assert {"component", "item", "quantity", "unit", "unit_price", "hourly", "monthly"} <= set(
        data["lines"][0]
    )


@pytest.mark.parametrize("stack", ["moon", "../Pulumi"])
def test_cli_unknown_stack_exits_2(stack: str) -> None:
    result = CliRunner().invoke(app, ["cost", stack])
    assert result.exit_code == 2
    assert "stacks:" in result.output and "staging" in result.output


def test_the_config_package_needs_no_pulumi(tmp_path: Path) -> None:
    """This environment has no Pulumi providers: the stack config package, imported as an
    installed package (not from the working directory), must not pull Pulumi in."""
    code = (
        "import sys, stacks.stack_config\n"
        "print(sorted(name for name in sys.modules if name.startswith('pulumi')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
