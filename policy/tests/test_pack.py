"""The pack's structure: specs, the single PolicyPack, PulumiPolicy.yaml, and the pack
started the way the Pulumi CLI starts it, answering the analyzer protocol."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import selectors
import subprocess
import sys
import tempfile
import typing
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy import rules
from policy.rules import common, compute, data_tiers, ingress, s3, tags

from .support import BLOCK_ALL, TAGS, UNKNOWN_STR, resource_args

POLICY_DIR = Path(__file__).resolve().parents[1]
REPO = POLICY_DIR.parent
FAMILIES = (ingress, compute, s3, data_tiers, tags)
entry = importlib.import_module("policy.__main__")


# --- specs ------------------------------------------------------------------------------


def test_rule_names_are_unique_and_all_kinds_present() -> None:
    names = [spec.name for spec in rules.RULES]
    assert len(names) == len(set(names)) == 10
    assert {spec.kind for spec in rules.RULES} == {"resource", "stack"}


@pytest.mark.parametrize("spec", rules.RULES, ids=lambda spec: spec.name)
def test_every_spec_is_complete_and_mandatory(spec: rules.RuleSpec) -> None:
    assert spec.name.strip()
    assert spec.description.strip()
    assert spec.enforcement_level is EnforcementLevel.MANDATORY
    hints = typing.get_type_hints(spec.validator)
    parameters = list(inspect.signature(spec.validator).parameters)
    assert len(parameters) == 2
    expected = ResourceValidationArgs if spec.kind == "resource" else StackValidationArgs
    assert hints[parameters[0]] is expected
    assert spec.validator.__doc__, "the docstring says what the rule checks"


def test_spec_fields_are_mandatory() -> None:
    with pytest.raises(TypeError):
        rules.RuleSpec(name="x", description="y", validator=compute.ebs_encrypted)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        rules.RuleSpec("x", " ", compute.ebs_encrypted, EnforcementLevel.MANDATORY, "resource")


def _family_validators() -> list:
    """Every public function of the family modules that takes ``report_violation``."""
    return [
        function
        for family in FAMILIES
        for name, function in inspect.getmembers(family, inspect.isfunction)
        if function.__module__ == family.__name__
        and not name.startswith("_")
        and "report_violation" in inspect.signature(function).parameters
    ]


def test_registry_holds_every_family_validator_once() -> None:
    """A validator written in a family module but left out of RULES would never run."""
    registered = [spec.validator for spec in rules.RULES]
    assert sorted(registered, key=id) == sorted(_family_validators(), key=id)
    assert len(set(map(id, registered))) == len(registered)


def test_readme_documents_every_rule() -> None:
    readme = (POLICY_DIR / "README.md").read_text()
    for spec in rules.RULES:
        assert f"`{spec.name}`" in readme


# --- the PolicyPack is built only in __main__.py ------------------------------------------


def _policy_pack_uses(path: Path) -> tuple[bool, bool]:
    """(constructs a PolicyPack, refers to PolicyPack at all) in the code of ``path``."""
    constructs = refers = False
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.alias):
            name = node.asname or node.name
        refers = refers or name == "PolicyPack"
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            constructs = constructs or called == "PolicyPack"
    return constructs, refers


def test_only_main_constructs_the_policy_pack() -> None:
    paths = [*POLICY_DIR.glob("*.py"), *(POLICY_DIR / "rules").glob("*.py")]
    sources = {p.relative_to(POLICY_DIR).as_posix(): _policy_pack_uses(p) for p in paths}
    families = {f"rules/{module.__name__.rsplit('.', 1)[1]}.py" for module in (*FAMILIES, common)}
    assert set(sources) >= {"__main__.py", "check.py", "rules/__init__.py", *families}
    assert [name for name, (constructs, _) in sources.items() if constructs] == ["__main__.py"]
    assert [name for name, (_, refers) in sources.items() if refers] == ["__main__.py"]


def test_importing_the_modules_starts_nothing() -> None:
    """Importing rules, check and the entry module returns promptly: no server, no block.
    ``rules`` is imported the way the pack imports it too: top-level, policy/ on sys.path."""
    code = (
        "import sys; import policy.rules, policy.check, policy.__main__; "
        "sys.path.insert(0, 'policy'); import rules, check; "
        "assert check.rules is rules and len(rules.RULES) == len(policy.rules.RULES); "
        "print('imported')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"


def test_policies_follow_the_specs() -> None:
    built = entry.policies()
    assert [p.name for p in built] == [spec.name for spec in rules.RULES]
    for policy, spec in zip(built, rules.RULES, strict=True):
        expected = ResourceValidationPolicy if spec.kind == "resource" else StackValidationPolicy
        assert type(policy) is expected
        assert policy.description == spec.description
        assert policy.enforcement_level is EnforcementLevel.MANDATORY


def test_built_policy_runs_its_validator() -> None:
    policy = next(p for p in entry.policies() if p.name == "imdsv2-required")
    messages: list[str] = []
    args = resource_args("aws:ec2/launchTemplate:LaunchTemplate", {}, "lt")
    policy.validate(args, lambda message, urn=None: messages.append(message))
    assert messages and "'lt'" in messages[0]


def test_main_builds_the_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(entry, "PolicyPack", lambda **kwargs: calls.append(kwargs))
    entry.main()
    assert len(calls) == 1
    assert calls[0]["name"] == "recstack-security"
    assert calls[0]["enforcement_level"] is EnforcementLevel.MANDATORY
    assert [p.name for p in calls[0]["policies"]] == [spec.name for spec in rules.RULES]


def test_pulumi_policy_yaml() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    virtualenv = project["runtime"]["options"]["virtualenv"]
    assert virtualenv == "../.venv-pulumi"
    assert (POLICY_DIR / virtualenv / "pyvenv.cfg").is_file()
    assert project["description"].strip()
    assert project["version"]


# --- the pack as the CLI runs it: `python policy/`, then the analyzer gRPC protocol -------


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(POLICY_DIR)],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            selector = selectors.DefaultSelector()
            selector.register(process.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
            line = process.stdout.readline() if selector.select(timeout=120) else ""  # type: ignore[union-attr]
            if not line.strip().isdigit():
                stderr.seek(0)
                pytest.fail(f"the pack did not print its port: {line!r} {stderr.read()}")
            with grpc.insecure_channel(f"127.0.0.1:{int(line)}") as channel:
                yield analyzer_pb2_grpc.AnalyzerStub(channel)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _struct(props: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(props)
    return struct


def _analyze(stub, resource_type: str, name: str, props: dict) -> list:
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type,
        name=name,
        urn=f"urn:pulumi:staging::recstack::{resource_type}::{name}",
        properties=_struct(props),
    )
    return list(stub.Analyze(request).diagnostics)


MANDATORY = analyzer_pb2.EnforcementLevel.Value("MANDATORY")
ADVISORY = analyzer_pb2.EnforcementLevel.Value("ADVISORY")


def test_pack_describes_its_policies(analyzer) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "recstack-security"
    assert [p.name for p in info.policies] == [spec.name for spec in rules.RULES]
    assert {p.enforcementLevel for p in info.policies} == {MANDATORY}


def test_pack_blocks_a_violating_resource(analyzer) -> None:
    props = {
        "ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]
    }
    found = _analyze(analyzer, "aws:ec2/securityGroup:SecurityGroup", "bastion", props)
    assert {d.policyName for d in found} == {
        "no-world-open-ingress",
        "no-ssh-ingress",
        "required-tags",
    }
    assert {d.enforcementLevel for d in found} == {MANDATORY}
    assert all("'bastion'" in d.message for d in found)


def test_pack_passes_a_compliant_resource(analyzer) -> None:
    props = {
        "metadataOptions": {"httpTokens": "required"},
        "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"encrypted": "true"}}],
        "tags": TAGS,
    }
    assert _analyze(analyzer, "aws:ec2/launchTemplate:LaunchTemplate", "serving", props) == []


def test_pack_defers_or_fails_closed_on_unknowns(analyzer) -> None:
    """Preview: an unknown CIDR makes the world-open rule an advisory note (checked again
    during the update); an unknown http_tokens is a mandatory violation."""
    sg = {
        "tags": TAGS,
        "ingress": [
            {"protocol": "tcp", "fromPort": 8000, "toPort": 8000, "cidrBlocks": [UNKNOWN_STR]}
        ],
    }
    found = _analyze(analyzer, "aws:ec2/securityGroup:SecurityGroup", "serving", sg)
    assert [(d.policyName, d.enforcementLevel) for d in found] == [
        ("no-world-open-ingress", ADVISORY)
    ]
    assert "can't run policy" in found[0].message

    template = {
        "tags": TAGS,
        "metadataOptions": {"httpTokens": UNKNOWN_STR},
        "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"encrypted": True}}],
    }
    found = _analyze(analyzer, "aws:ec2/launchTemplate:LaunchTemplate", "serving", template)
    assert [(d.policyName, d.enforcementLevel) for d in found] == [("imdsv2-required", MANDATORY)]


def test_pack_checks_the_stack(analyzer) -> None:
    def resource(resource_type: str, name: str, props: dict, bucket_urn: str | None = None):
        deps = (
            {"bucket": analyzer_pb2.AnalyzerPropertyDependencies(urns=[bucket_urn])}
            if bucket_urn
            else {}
        )
        return analyzer_pb2.AnalyzerResource(
            type=resource_type,
            name=name,
            urn=f"urn:pulumi:staging::recstack::{resource_type}::{name}",
            properties=_struct(props),
            propertyDependencies=deps,
        )

    bucket = resource(
        "aws:s3/bucket:Bucket", "models", {"bucket": "models-1a2b", "id": UNKNOWN_STR}
    )
    block = resource(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "models",
        {
            "bucket": UNKNOWN_STR,
            **BLOCK_ALL,
        },
        bucket.urn,
    )
    found = list(
        analyzer.AnalyzeStack(
            analyzer_pb2.AnalyzeStackRequest(resources=[bucket, block])
        ).diagnostics
    )
    assert [(d.policyName, d.enforcementLevel, d.urn) for d in found] == [
        ("s3-buckets-protected", MANDATORY, bucket.urn)
    ]
    assert "server-side encryption configuration" in found[0].message
