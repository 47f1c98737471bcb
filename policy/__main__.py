"""Entry point of the recstack-security policy pack, and the only place that constructs
the ``PolicyPack`` (constructing one starts the analyzer's gRPC server and blocks).

The Pulumi CLI runs this directory as ``python policy/`` (PulumiPolicy.yaml), so the
``rules`` package is imported as top-level ``rules`` then; ``python -m policy`` and the
tests import it as ``policy.rules``.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

try:
    from . import rules
except ImportError:  # run as a directory: no parent package
    import rules  # type: ignore[no-redef]

PACK_NAME = "recstack-security"


def policies() -> list[Policy]:
    """One pulumi-policy policy per spec in ``rules.RULES``."""
    result: list[Policy] = []
    for spec in rules.RULES:
        policy_class: type[ResourceValidationPolicy] | type[StackValidationPolicy] = (
            ResourceValidationPolicy if spec.kind == "resource" else StackValidationPolicy
        )
        result.append(
            policy_class(
                name=spec.name,
                description=spec.description,
                validate=spec.validator,
                enforcement_level=spec.enforcement_level,
            )
        )
    return result


def main() -> None:
    PolicyPack(
        name=PACK_NAME,
        policies=policies(),
        enforcement_level=EnforcementLevel.MANDATORY,
    )


if __name__ == "__main__":
    main()
