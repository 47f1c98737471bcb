"""s3-public-access-blocked, s3-kms-encryption and the stack rule s3-buckets-protected."""

from __future__ import annotations

import pytest
from pulumi_policy import StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from policy.rules.s3 import (
    PUBLIC_ACCESS_BLOCK,
    s3_buckets_protected,
    s3_kms_encryption,
    s3_public_access_blocked,
)

from .support import (
    BLOCK_ALL,
    PUBLIC_ACCESS_FLAGS,
    UNKNOWN_BOOL,
    UNKNOWN_LIST,
    UNKNOWN_STR,
    assert_names_resource_and_fix,
    assert_one_violation,
    changed,
    run,
    run_stack,
    stack_resource,
)

SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_V2 = (
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
)
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
KMS_RULES = [
    {
        "applyServerSideEncryptionByDefault": {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": "arn:aws:kms:k",
        },
        "bucketKeyEnabled": True,
    }
]


# --- s3-public-access-blocked ----------------------------------------------------------


def test_full_public_access_block_passes() -> None:
    assert (
        run(s3_public_access_blocked, PUBLIC_ACCESS_BLOCK, {"bucket": "models", **BLOCK_ALL}) == []
    )


@pytest.mark.parametrize("flag", PUBLIC_ACCESS_FLAGS)
@pytest.mark.parametrize(
    ("value", "shown"), [(False, "is False"), (None, "is not set"), (UNKNOWN_BOOL, "is not known")]
)
def test_each_missing_flag_is_refused(flag, value, shown) -> None:
    props = changed({"bucket": "models", **BLOCK_ALL}, {flag: value})
    messages = run(s3_public_access_blocked, PUBLIC_ACCESS_BLOCK, props, name="models-pab")
    assert_one_violation(messages, f"{flag} {shown}", "models-pab")


def test_empty_public_access_block_reports_all_four() -> None:
    assert len(run(s3_public_access_blocked, PUBLIC_ACCESS_BLOCK, {"bucket": "b"})) == 4


# --- s3-kms-encryption -----------------------------------------------------------------


@pytest.mark.parametrize("resource_type", [SSE, SSE_V2])
@pytest.mark.parametrize("algorithm", ["aws:kms", "aws:kms:dsse"])
def test_kms_encryption_passes(resource_type, algorithm) -> None:
    props = {
        "bucket": "models",
        "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}],
    }
    assert run(s3_kms_encryption, resource_type, props) == []


@pytest.mark.parametrize(
    ("rules_value", "shown"),
    [
        (
            [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
            "sseAlgorithm is 'AES256'",
        ),
        ([{"bucketKeyEnabled": True}], "sseAlgorithm is not set"),
        ([{"applyServerSideEncryptionByDefault": {"sseAlgorithm": UNKNOWN_STR}}], "not known"),
        (UNKNOWN_LIST, "not known"),
        ([], "has no encryption rule"),
        (None, "has no encryption rule"),
    ],
)
def test_non_kms_encryption_is_refused(rules_value, shown) -> None:
    props = changed({"bucket": "models"}, {"rules": rules_value})
    messages = run(s3_kms_encryption, SSE, props, name="models-sse")
    assert_one_violation(messages, shown, "models-sse")


# --- s3-buckets-protected (stack) ------------------------------------------------------


def _bucket(name: str, physical: str | None = None, resource_type: str = BUCKET):
    physical = physical or f"{name}-a1b2c3"
    return stack_resource(
        resource_type, name, {"bucket": physical, "id": physical, "versioning": {"enabled": True}}
    )


def _pab(name: str, bucket_value, deps=None):
    return stack_resource(PUBLIC_ACCESS_BLOCK, name, {"bucket": bucket_value, **BLOCK_ALL}, deps)


def _sse(name: str, bucket_value, deps=None, resource_type: str = SSE):
    return stack_resource(resource_type, name, {"bucket": bucket_value, "rules": KMS_RULES}, deps)


def test_protected_buckets_pass() -> None:
    models, features = _bucket("models"), _bucket("features", "recstack-features")
    resources = [
        models,
        features,
        _pab("models-pab", "models-a1b2c3"),  # the bucket's id
        _sse("models-sse", "models-a1b2c3"),
        _pab("features-pab", "recstack-features"),  # the bucket's name
        _sse("features-sse", "recstack-features", resource_type=SSE_V2),
    ]
    assert run_stack(s3_buckets_protected, resources) == []


def test_stack_without_buckets_passes() -> None:
    assert run_stack(s3_buckets_protected, [stack_resource("aws:ec2/vpc:Vpc", "vpc", {})]) == []


def test_property_dependencies_match_in_preview() -> None:
    """In preview the bucket id is unknown; the engine's property dependencies still say
    which bucket an attachment refers to."""
    models = stack_resource(BUCKET, "models", {"bucket": "models-a1b2c3", "id": UNKNOWN_STR})
    resources = [
        models,
        _pab("models-pab", UNKNOWN_STR, {"bucket": [models]}),
        _sse("models-sse", UNKNOWN_STR, {"bucket": [models]}),
    ]
    assert run_stack(s3_buckets_protected, resources) == []


@pytest.mark.parametrize(
    ("attachments", "missing"),
    [
        ([_sse("models-sse", "models-a1b2c3")], "public access block"),
        ([_pab("models-pab", "models-a1b2c3")], "server-side encryption configuration"),
        ([], "public access block"),
        # Attachments that refer to another bucket do not count.
        ([_pab("pab", "other-bucket"), _sse("sse", "other-bucket")], "public access block"),
    ],
)
@pytest.mark.parametrize("bucket_type", [BUCKET, BUCKET_V2])
def test_unprotected_bucket_is_reported(attachments, missing, bucket_type) -> None:
    models = _bucket("models", resource_type=bucket_type)
    reported = run_stack(s3_buckets_protected, [models, *attachments])
    assert any(missing in message for message, _ in reported)
    assert all(resource_urn == models.urn for _, resource_urn in reported)
    assert_names_resource_and_fix([message for message, _ in reported], "models")


def test_each_bucket_is_checked_on_its_own() -> None:
    models, features = _bucket("models"), _bucket("features")
    resources = [models, features, _pab("pab", "models-a1b2c3"), _sse("sse", "models-a1b2c3")]
    reported = run_stack(s3_buckets_protected, resources)
    assert len(reported) == 2
    assert {resource_urn for _, resource_urn in reported} == {features.urn}


def test_dependency_on_another_bucket_does_not_count() -> None:
    models, features = _bucket("models"), _bucket("features")
    resources = [
        models,
        features,
        _pab("pab", UNKNOWN_STR, {"bucket": [features]}),
        _sse("sse", UNKNOWN_STR, {"bucket": [features]}),
    ]
    reported = run_stack(s3_buckets_protected, resources)
    assert {resource_urn for _, resource_urn in reported} == {models.urn}


def test_unknown_reference_without_dependencies_defers_after_reporting() -> None:
    """An attachment whose bucket is unknown and carries no dependency information may be
    the bucket's: undecidable now, so the rule defers (advisory in preview, checked again
    after the update), but a bucket proven uncovered is still reported first."""
    models, features = _bucket("models"), _bucket("features")
    resources = [models, features, _pab("pab", UNKNOWN_STR), _sse("sse", "features-a1b2c3")]
    reported: list[tuple[str, str | None]] = []
    with pytest.raises(UnknownValueError) as caught:
        s3_buckets_protected(
            StackValidationArgs(resources),
            lambda message, urn=None: reported.append((message, urn)),
        )
    assert "models (public access block)" in caught.value.message
    assert [(urn, "server-side encryption" in message) for message, urn in reported] == [
        (models.urn, True)
    ]


def test_unknown_bucket_name_defers() -> None:
    models = stack_resource(BUCKET, "models", {"bucket": UNKNOWN_STR, "id": UNKNOWN_STR})
    resources = [models, _pab("pab", "something"), _sse("sse", "something")]
    with pytest.raises(UnknownValueError):
        run_stack(s3_buckets_protected, resources)
