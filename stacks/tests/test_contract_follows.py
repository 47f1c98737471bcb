"""The program takes every port from recstack_contract: in a copy of the tree whose
contract has other ports, the security groups, the load balancer and the `inventory`
output of both committed stacks open, forward and report exactly those (Triton's ports
reach clients from the contract itself, beside the load balancer's address)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import PROJECT_ROOT

# Every port the program uses, moved off its real value (MSK's are fixed by AWS; moving
# them here only shows that nothing else decides them).
CHANGED = {
    "redis": 6390,
    "redis_cluster_bus": 16390,
    "triton_http": 8100,
    "triton_grpc": 8101,
    "triton_metrics": 8102,
    "msk_scram": 9196,
    "msk_iam": 9198,
}

# Run in the copy's stacks/tests, whose conftest declares the copy's program.
DECLARE = """
import json
from conftest import run_program, stack_file

seen = {}
for stack in ("staging", "prod"):
    run = run_program(stack_file(stack))
    mocks = run.mocks
    seen[stack] = {
        "ingress": sorted(
            {r.inputs["fromPort"] for r in mocks.of_type(
                "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
            ) if r.inputs["fromPort"] != 443}  # the VPC endpoints' HTTPS, not a contract port
        ),
        "listeners": sorted(r.inputs["port"] for r in mocks.of_type("aws:lb/listener:Listener")),
        "target_groups": sorted(
            (r.inputs["port"], r.inputs["healthCheck"]["port"])
            for r in mocks.of_type("aws:lb/targetGroup:TargetGroup")
        ),
        "elasticache": [r.inputs["port"] for r in mocks.of_type(
            "aws:elasticache/replicationGroup:ReplicationGroup"
        )],
        "variables": run.outputs["inventory"]["variables"],
    }
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tree = tmp_path_factory.mktemp("kit")
    for name in ("recstack_contract", "stacks"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(PROJECT_ROOT / name, tree / name, ignore=ignore)
    for stack_file in PROJECT_ROOT.glob("Pulumi*.yaml"):
        shutil.copy2(stack_file, tree / stack_file.name)
    ports = tree / "recstack_contract" / "ports.py"
    text = ports.read_text()
    for name, port in CHANGED.items():
        default = f"    {name}: int = "
        (line,) = [line for line in text.splitlines() if line.startswith(default)]
        text = text.replace(line, f"{default}{port}")
    ports.write_text(text)
    result = subprocess.run(
        [sys.executable, "-c", DECLARE],
        cwd=tree / "stacks" / "tests",
        # The copy's root first, so its contract wins over the installed one.
        env={**os.environ, "PYTHONPATH": os.pathsep.join((str(tree), str(tree / "stacks")))},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_security_groups_open_exactly_the_contracts_ports(declared: dict) -> None:
    triton = {CHANGED["triton_http"], CHANGED["triton_grpc"], CHANGED["triton_metrics"]}
    redis = {CHANGED["redis"], CHANGED["redis_cluster_bus"]}
    # staging authenticates to MSK with SCRAM, prod with IAM.
    assert set(declared["staging"]["ingress"]) == triton | redis | {CHANGED["msk_scram"]}
    assert set(declared["prod"]["ingress"]) == triton | redis | {CHANGED["msk_iam"]}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_load_balancer_forwards_and_checks_the_contracts_triton_ports(
    declared: dict, stack: str
) -> None:
    http, grpc = CHANGED["triton_http"], CHANGED["triton_grpc"]
    assert declared[stack]["listeners"] == [http, grpc]
    assert declared[stack]["target_groups"] == [[http, str(http)], [grpc, str(http)]]


def test_the_inventory_reports_the_contracts_ports(declared: dict) -> None:
    for stack in ("staging", "prod"):
        # (MSK's bootstrap list comes from AWS, here from the mocks: no port to follow.)
        variables = declared[stack]["variables"]
        assert variables["recstack_redis"]["port"] == CHANGED["redis"]
    assert declared["prod"]["elasticache"] == [CHANGED["redis"]]
