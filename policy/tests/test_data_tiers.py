"""elasticache-encrypted and msk-tls-only."""

from __future__ import annotations

import pytest

from policy.rules.data_tiers import (
    MSK_CLUSTER,
    REPLICATION_GROUP,
    elasticache_encrypted,
    msk_tls_only,
)

from .support import (
    UNKNOWN_BOOL,
    UNKNOWN_OBJ,
    UNKNOWN_STR,
    assert_names_resource_and_fix,
    assert_one_violation,
    changed,
    run,
)

REDIS = {
    "description": "recstack feature store",
    "engine": "redis",
    "nodeType": "cache.r7g.large",
    "numNodeGroups": 3.0,
    "replicasPerNodeGroup": 1.0,
    "automaticFailoverEnabled": True,
    "multiAzEnabled": True,
    "transitEncryptionEnabled": True,
    "atRestEncryptionEnabled": True,
}
KEY = "arn:aws:kms:eu-west-1:123456789012:key/abcd"
KAFKA = {
    "clusterName": "recstack-prod",
    "kafkaVersion": "3.7.x",
    "numberOfBrokerNodes": 3.0,
    "encryptionInfo": {
        "encryptionAtRestKmsKeyArn": KEY,
        "encryptionInTransit": {"clientBroker": "TLS", "inCluster": True},
    },
}


# --- elasticache-encrypted -------------------------------------------------------------


@pytest.mark.parametrize(
    "props",
    [
        REDIS,
        {**REDIS, "transitEncryptionEnabled": "true", "atRestEncryptionEnabled": "true"},
    ],
)
def test_encrypted_replication_group_passes(props) -> None:
    assert run(elasticache_encrypted, REPLICATION_GROUP, props) == []


@pytest.mark.parametrize("prop", ["transitEncryptionEnabled", "atRestEncryptionEnabled"])
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (False, "is False"),
        ("false", "is 'false'"),
        (None, "is not set"),
        (UNKNOWN_BOOL, "is not known"),
    ],
)
def test_unencrypted_replication_group_is_refused(prop, value, shown) -> None:
    props = changed(REDIS, {prop: value})
    messages = run(elasticache_encrypted, REPLICATION_GROUP, props, name="features")
    assert_one_violation(messages, f"{prop} {shown}", "features")


def test_bare_replication_group_reports_both() -> None:
    assert len(run(elasticache_encrypted, REPLICATION_GROUP, {"description": "x"})) == 2


# --- msk-tls-only ----------------------------------------------------------------------


def _kafka(**in_transit) -> dict:
    transit = changed(KAFKA["encryptionInfo"]["encryptionInTransit"], in_transit)
    return {**KAFKA, "encryptionInfo": {**KAFKA["encryptionInfo"], "encryptionInTransit": transit}}


@pytest.mark.parametrize(
    "props",
    [
        KAFKA,
        _kafka(inCluster=None),  # absent: AWS's default is in-cluster TLS
        # A key created in the same stack is unknown in preview: it will exist.
        {
            **KAFKA,
            "encryptionInfo": {**KAFKA["encryptionInfo"], "encryptionAtRestKmsKeyArn": UNKNOWN_STR},
        },
    ],
)
def test_tls_only_cluster_passes(props) -> None:
    assert run(msk_tls_only, MSK_CLUSTER, props) == []


@pytest.mark.parametrize(
    ("props", "shown"),
    [
        (_kafka(clientBroker="TLS_PLAINTEXT"), "clientBroker is 'TLS_PLAINTEXT'"),
        (_kafka(clientBroker="PLAINTEXT"), "clientBroker is 'PLAINTEXT'"),
        (_kafka(clientBroker=None), "clientBroker is not set"),
        (_kafka(clientBroker=UNKNOWN_STR), "clientBroker is not known"),
        (_kafka(inCluster=False), "inCluster is false"),
        (_kafka(inCluster="false"), "inCluster is false"),
        (_kafka(inCluster=UNKNOWN_BOOL), "inCluster is not known"),
        (
            {**KAFKA, "encryptionInfo": {"encryptionInTransit": {"clientBroker": "TLS"}}},
            "encryptionAtRestKmsKeyArn is not set",
        ),
        (
            {
                **KAFKA,
                "encryptionInfo": {**KAFKA["encryptionInfo"], "encryptionAtRestKmsKeyArn": ""},
            },
            "encryptionAtRestKmsKeyArn is ''",
        ),
    ],
)
def test_non_tls_or_unencrypted_cluster_is_refused(props, shown) -> None:
    messages = run(msk_tls_only, MSK_CLUSTER, props, name="events")
    assert_one_violation(messages, shown, "events")


@pytest.mark.parametrize("encryption_info", [None, UNKNOWN_OBJ])
def test_cluster_without_encryption_info_is_refused(encryption_info) -> None:
    props = changed(KAFKA, {"encryptionInfo": encryption_info})
    messages = run(msk_tls_only, MSK_CLUSTER, props, name="events")
    # clientBroker cannot be proven TLS in either case; the key ARN is missing or unknown.
    assert any("clientBroker" in message for message in messages)
    assert_names_resource_and_fix(messages, "events")
