"""imdsv2-required and ebs-encrypted."""

from __future__ import annotations

import pytest

from policy.rules.compute import (
    EBS_VOLUME,
    INSTANCE,
    LAUNCH_TEMPLATE,
    ebs_encrypted,
    imdsv2_required,
)

from .support import (
    UNKNOWN_BOOL,
    UNKNOWN_LIST,
    UNKNOWN_OBJ,
    UNKNOWN_STR,
    assert_one_violation,
    changed,
    run,
)

ROOT = {
    "deviceName": "/dev/sda1",
    "ebs": {"encrypted": "true", "volumeType": "gp3", "volumeSize": 200.0},
}
DATA = {
    "deviceName": "/dev/sdf",
    "ebs": {
        "encrypted": True,
        "volumeType": "gp3",
        "volumeSize": 500.0,
        "kmsKeyId": "arn:aws:kms:eu-west-1:1:key/x",
    },
}
SERVING_TEMPLATE = {
    "imageId": "ami-123",
    "instanceType": "g5.xlarge",
    "metadataOptions": {
        "httpTokens": "required",
        "httpEndpoint": "enabled",
        "httpPutResponseHopLimit": 2.0,
    },
    "blockDeviceMappings": [ROOT, DATA, {"deviceName": "/dev/sdb", "virtualName": "ephemeral0"}],
}
REDIS_NODE = {
    "ami": "ami-123",
    "instanceType": "r7g.large",
    "metadataOptions": {"httpTokens": "required"},
    "rootBlockDevice": {"encrypted": True, "volumeType": "gp3"},
    "ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": True, "volumeSize": 100.0}],
}


# --- imdsv2-required -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (LAUNCH_TEMPLATE, SERVING_TEMPLATE),
        (INSTANCE, REDIS_NODE),
        # httpEndpoint disabled is fine either way.
        (
            INSTANCE,
            {
                **REDIS_NODE,
                "metadataOptions": {"httpTokens": "required", "httpEndpoint": "disabled"},
            },
        ),
    ],
)
def test_imdsv2_passes(resource_type, props) -> None:
    assert run(imdsv2_required, resource_type, props) == []


@pytest.mark.parametrize("resource_type", [LAUNCH_TEMPLATE, INSTANCE])
@pytest.mark.parametrize(
    ("metadata", "shown"),
    [
        ({"httpTokens": "optional"}, "'optional'"),
        ({"httpEndpoint": "enabled"}, "not set"),
        (None, "not set"),
        (UNKNOWN_OBJ, "not known"),
        ({"httpTokens": UNKNOWN_STR}, "not known"),
    ],
)
def test_imdsv1_is_refused(resource_type, metadata, shown) -> None:
    props = changed({"imageId": "ami-1"}, {"metadataOptions": metadata})
    messages = run(imdsv2_required, resource_type, props, name="gpu-node")
    assert_one_violation(messages, shown, "gpu-node")
    assert "http_tokens': 'required'" in messages[0]


def test_imdsv2_ignores_other_types() -> None:
    assert run(imdsv2_required, "aws:ec2/vpc:Vpc", {}) == []


# --- ebs-encrypted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (LAUNCH_TEMPLATE, SERVING_TEMPLATE),
        (
            LAUNCH_TEMPLATE,
            {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": True}}]},
        ),
        (
            LAUNCH_TEMPLATE,
            {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "True"}}]},
        ),
        (INSTANCE, REDIS_NODE),
        (INSTANCE, {**REDIS_NODE, "ebsBlockDevices": []}),
        (EBS_VOLUME, {"availabilityZone": "eu-west-1a", "size": 100.0, "encrypted": True}),
        (EBS_VOLUME, {"availabilityZone": "eu-west-1a", "size": 100.0, "encrypted": "true"}),
    ],
)
def test_encrypted_volumes_pass(resource_type, props) -> None:
    assert run(ebs_encrypted, resource_type, props) == []


@pytest.mark.parametrize(
    ("mappings", "shown"),
    [
        (
            [ROOT, {**DATA, "ebs": {**DATA["ebs"], "encrypted": "false"}}],
            "blockDeviceMappings[1].ebs.encrypted is 'false'",
        ),
        (
            [{**ROOT, "ebs": {"volumeSize": 100.0}}],
            "blockDeviceMappings[0].ebs.encrypted is not set",
        ),
        ([{**ROOT, "ebs": {"encrypted": False}}], "blockDeviceMappings[0].ebs.encrypted is False"),
        (
            [{**ROOT, "ebs": {"encrypted": UNKNOWN_STR}}],
            "blockDeviceMappings[0].ebs.encrypted is not known",
        ),
        ([{**ROOT, "ebs": UNKNOWN_OBJ}], "blockDeviceMappings[0].ebs.encrypted is not known"),
        (UNKNOWN_LIST, "is not known"),
        # No EBS mapping: the root volume would take the AMI's settings.
        ([], "declares no EBS block device mapping"),
        (
            [{"deviceName": "/dev/sdb", "virtualName": "ephemeral0"}],
            "declares no EBS block device mapping",
        ),
        (None, "declares no EBS block device mapping"),
    ],
)
def test_unencrypted_launch_template_is_refused(mappings, shown) -> None:
    props = changed(
        {"metadataOptions": {"httpTokens": "required"}}, {"blockDeviceMappings": mappings}
    )
    messages = run(ebs_encrypted, LAUNCH_TEMPLATE, props, name="serving-lt")
    assert_one_violation(messages, shown, "serving-lt")


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"rootBlockDevice": {"encrypted": False}}, "rootBlockDevice.encrypted is False"),
        ({"rootBlockDevice": {"volumeType": "gp3"}}, "rootBlockDevice.encrypted is not set"),
        (
            {"rootBlockDevice": {"encrypted": UNKNOWN_BOOL}},
            "rootBlockDevice.encrypted is not known",
        ),
        ({"rootBlockDevice": None}, "has no rootBlockDevice"),
        (
            {"ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": False}]},
            "ebsBlockDevices[0].encrypted is False",
        ),
        (
            {"ebsBlockDevices": [{"deviceName": "/dev/sdf"}]},
            "ebsBlockDevices[0].encrypted is not set",
        ),
        ({"ebsBlockDevices": UNKNOWN_LIST}, "ebsBlockDevices[0].encrypted is not known"),
    ],
)
def test_unencrypted_instance_is_refused(changes, shown) -> None:
    messages = run(ebs_encrypted, INSTANCE, changed(REDIS_NODE, changes), name="redis-0")
    assert_one_violation(messages, shown, "redis-0")


@pytest.mark.parametrize(
    ("encrypted", "shown"),
    [
        (False, "encrypted is False"),
        ("false", "encrypted is 'false'"),
        (None, "encrypted is not set"),
        (UNKNOWN_BOOL, "not known"),
    ],
)
def test_unencrypted_volume_is_refused(encrypted, shown) -> None:
    props = changed({"availabilityZone": "eu-west-1a", "size": 100.0}, {"encrypted": encrypted})
    messages = run(ebs_encrypted, EBS_VOLUME, props, name="kafka-data-0")
    assert_one_violation(messages, shown, "kafka-data-0")
