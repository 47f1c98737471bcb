"""Kafka client settings for the local broker, MSK IAM and MSK SCRAM (no network: IAM
tokens are signed locally, the SCRAM secret comes from an injected fetcher)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import botocore.session
import pytest
from confluent_kafka import Producer

from pipelines.serving.kafka_client import client_config
from recstack import health
from recstack_contract.kafka import (
    ENVIRONMENT_PREFIX,
    PROBES,
    KafkaEndpoint,
    KafkaEndpointError,
    from_environment,
)

REGION = "us-east-1"
ACCESS_KEY = "AKIDRECSTACKTEST0001"
SECRET_KEY = "recstack-test-secret-key-not-a-real-one"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:AmazonMSK_rs-abc123"
MSK_BOOTSTRAP = (
    f"b-1.rs.abc123.c2.kafka.{REGION}.amazonaws.com:9098,"
    f"b-2.rs.abc123.c2.kafka.{REGION}.amazonaws.com:9098"
)
SCRAM_SECRET = json.dumps({"username": "recstack", "password": "s3cret-pass"})

TLS = {
    "security.protocol": "SASL_SSL",
    "enable.ssl.certificate.verification": True,
    "ssl.endpoint.identification.algorithm": "https",
}


def _closed_port() -> str:
    """A loopback address where nothing listens: clients built in these tests never reach
    a broker."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def _static_session() -> botocore.session.Session:
    session = botocore.session.Session()
    session.set_credentials(ACCESS_KEY, SECRET_KEY)
    return session


def _iam() -> KafkaEndpoint:
    return KafkaEndpoint(MSK_BOOTSTRAP, auth="iam", tls=True, region=REGION)


def _scram() -> KafkaEndpoint:
    return KafkaEndpoint(
        MSK_BOOTSTRAP, auth="scram", tls=True, region=REGION, credentials_secret=SECRET_ARN
    )


# --- the endpoint ----------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "auth"), [("staging", "scram"), ("prod", "iam")])
def test_what_the_stacks_export_parses(stack_outputs: dict, stack: str, auth: str) -> None:
    raw = stack_outputs[stack]["inventory"]["variables"]["recstack_kafka"]
    endpoint = KafkaEndpoint.from_mapping(raw)
    assert (endpoint.auth, endpoint.tls, endpoint.region) == (auth, True, "us-east-1")
    assert bool(endpoint.credentials_secret) == (auth == "scram")
    secret = json.dumps({"username": "recstack", "password": "p"})
    config = client_config(endpoint, session=_static_session(), fetch_secret=lambda _: secret)
    assert config["security.protocol"] == "SASL_SSL"


def test_an_endpoint_without_auth_is_the_plaintext_local_broker() -> None:
    assert KafkaEndpoint.from_mapping({"bootstrap": "10.0.1.5:9092"}) == KafkaEndpoint(
        "10.0.1.5:9092"
    )
    assert KafkaEndpoint("10.0.1.5:9092").auth == "none"


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"bootstrap": "", "auth": "none"}, ("bootstrap is empty", "set it")),
        ({"bootstrap": ",", "auth": "none"}, ("bootstrap is empty",)),
        ({"auth": "none"}, ("bootstrap is empty",)),
        ({"bootstrap": "h:1", "auth": "kerberos"}, ("auth 'kerberos'", "none, iam, scram")),
        ({"bootstrap": MSK_BOOTSTRAP, "auth": "iam"}, ("needs tls true", "set tls to true")),
        (
            {"bootstrap": MSK_BOOTSTRAP, "auth": "scram", "credentials_secret": SECRET_ARN},
            ("needs tls true",),
        ),
        (
            {"bootstrap": MSK_BOOTSTRAP, "auth": "scram", "tls": True, "region": REGION},
            ("needs credentials_secret", "add the stack's credentials_secret"),
        ),
        ({"bootstrap": "h:1", "auth": "none", "tls": True}, ("tls is true with auth 'none'",)),
        ({"bootstrap": "10.0.0.1:9098", "auth": "iam", "tls": True}, ("needs region",)),
        ({"bootstrap": "h:1", "tls": "yes"}, ("tls must be true or false",)),
        ({"bootstrap": ["h:1"]}, ("bootstrap must be a string",)),
        (
            {"bootstrap": "h:1", "credential_secret": SECRET_ARN},
            ("unknown key 'credential_secret'",),
        ),
    ],
)
def test_an_unusable_endpoint_is_refused_naming_the_field_and_the_fix(
    raw: dict[str, Any], names: tuple[str, ...]
) -> None:
    with pytest.raises(KafkaEndpointError) as error:
        KafkaEndpoint.from_mapping(raw)
    for name in names:
        assert name in str(error.value)


def test_the_endpoint_travels_through_plain_environment_variables() -> None:
    variables = _scram().environment()
    assert variables == {
        "RECSTACK_KAFKA_BOOTSTRAP": MSK_BOOTSTRAP,
        "RECSTACK_KAFKA_AUTH": "scram",
        "RECSTACK_KAFKA_TLS": "true",
        "RECSTACK_KAFKA_REGION": REGION,
        "RECSTACK_KAFKA_CREDENTIALS_SECRET": SECRET_ARN,
    }
    assert all(name.startswith(ENVIRONMENT_PREFIX) for name in variables)
    assert from_environment(variables) == _scram()
    local = KafkaEndpoint("127.0.0.1:9092")
    assert from_environment(local.environment()) == local
    assert from_environment({"RECSTACK_KAFKA_BOOTSTRAP": "127.0.0.1:9092"}) == local


def test_an_unusable_environment_is_refused_naming_the_variable() -> None:
    with pytest.raises(KafkaEndpointError, match="RECSTACK_KAFKA_BOOTSTRAP is not set"):
        from_environment({"RECSTACK_KAFKA_AUTH": "none"})
    with pytest.raises(KafkaEndpointError, match="RECSTACK_KAFKA_TLS must be true or false"):
        from_environment({**_iam().environment(), "RECSTACK_KAFKA_TLS": "1"})
    with pytest.raises(KafkaEndpointError, match="needs tls true"):
        from_environment({**_iam().environment(), "RECSTACK_KAFKA_TLS": "false"})


# --- the configuration of each mode ----------------------------------------------------


def test_the_local_broker_is_plaintext_without_authentication() -> None:
    assert client_config(KafkaEndpoint("127.0.0.1:9092")) == {
        "bootstrap.servers": "127.0.0.1:9092",
        "security.protocol": "PLAINTEXT",
    }


def test_iam_is_oauthbearer_over_verified_tls() -> None:
    config = client_config(_iam(), session=_static_session())
    assert callable(config.pop("oauth_cb"))
    assert config == {
        "bootstrap.servers": MSK_BOOTSTRAP,
        **TLS,
        "sasl.mechanisms": "OAUTHBEARER",
    }


def test_scram_is_sha512_over_verified_tls_with_the_secrets_user() -> None:
    asked: list[str] = []

    def fetch(arn: str) -> str:
        asked.append(arn)
        return SCRAM_SECRET

    assert client_config(_scram(), fetch_secret=fetch) == {
        "bootstrap.servers": MSK_BOOTSTRAP,
        **TLS,
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "recstack",
        "sasl.password": "s3cret-pass",
    }
    assert asked == [SECRET_ARN]


class _SecretsManagerSession:
    """A botocore session whose only client answers GetSecretValue from memory."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def create_client(self, service: str, region_name: str) -> _SecretsManagerSession:
        self.service, self.region = service, region_name
        return self

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # botocore names it so
        self.calls.append((self.service, self.region, SecretId))
        return {"SecretString": SCRAM_SECRET}


def test_scram_reads_the_secret_from_secrets_manager_in_the_clusters_region() -> None:
    session = _SecretsManagerSession()
    config = client_config(_scram(), session=session)  # type: ignore[arg-type]
    assert session.calls == [("secretsmanager", REGION, SECRET_ARN)]
    assert (config["sasl.username"], config["sasl.password"]) == ("recstack", "s3cret-pass")


@pytest.mark.parametrize(
    ("secret", "missing"),
    [
        ({"username": "recstack"}, "has no password"),
        ({"password": "s3cret-pass"}, "has no username"),
        ({"username": "", "password": "s3cret-pass"}, "has no username"),
        ({"username": "recstack", "password": 7}, "has no password"),
        ({}, "has no username or password"),
        (["recstack", "s3cret-pass"], "has no username or password"),
    ],
)
def test_a_malformed_scram_secret_is_refused_without_quoting_it(secret: Any, missing: str) -> None:
    with pytest.raises(KafkaEndpointError) as error:
        client_config(_scram(), fetch_secret=lambda _: json.dumps(secret))
    assert missing in str(error.value) and SECRET_ARN in str(error.value)
    assert "s3cret-pass" not in str(error.value)


def test_a_scram_secret_that_is_not_json_is_refused_without_quoting_it() -> None:
    with pytest.raises(KafkaEndpointError, match="is not JSON") as error:
        client_config(_scram(), fetch_secret=lambda _: "password=s3cret-pass")
    assert "s3cret-pass" not in str(error.value)
    assert error.value.__context__ is None or error.value.__suppress_context__


# --- the IAM token ---------------------------------------------------------------------


def _signing_key(secret: str, day: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (day, REGION, "kafka-cluster", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _check_presigned_connect(token: str) -> dict[str, str]:
    """The token is base64url (unpadded) of a SigV4-presigned GET of kafka-cluster:Connect
    on the region's MSK endpoint, signed with SECRET_KEY; returns its query."""
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        f"kafka.{REGION}.amazonaws.com",
        "/",
    )
    query = dict(parse_qsl(parts.query))
    assert query["Action"] == "kafka-cluster:Connect"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-SignedHeaders"] == "host"
    day = query["X-Amz-Date"][:8]
    assert query["X-Amz-Credential"] == f"{ACCESS_KEY}/{day}/{REGION}/kafka-cluster/aws4_request"
    # Recompute the signature independently of botocore: the signer adds User-Agent after
    # signing, so it is no part of the canonical request; the payload is the empty body.
    signed = sorted((k, v) for k, v in query.items() if k not in ("X-Amz-Signature", "User-Agent"))
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in signed
    )
    canonical = "\n".join(
        (
            "GET",
            "/",
            canonical_query,
            f"host:{parts.netloc}\n",
            "host",
            hashlib.sha256(b"").hexdigest(),
        )
    )
    to_sign = "\n".join(
        (
            "AWS4-HMAC-SHA256",
            query["X-Amz-Date"],
            f"{day}/{REGION}/kafka-cluster/aws4_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        )
    )
    expected = hmac.new(_signing_key(SECRET_KEY, day), to_sign.encode(), hashlib.sha256).hexdigest()
    assert query["X-Amz-Signature"] == expected
    return query


def test_the_oauth_callback_signs_a_connect_token_with_the_hosts_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # The default credential chain, as on an MSK client host; only these variables count.
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    before = time.time()
    token, expiry = client_config(_iam())["oauth_cb"](None)
    query = _check_presigned_connect(token)
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    # Seconds since the epoch (what confluent-kafka expects), when the presigned URL expires.
    assert isinstance(expiry, float)
    assert expiry == signed_at.timestamp() + int(query["X-Amz-Expires"])
    assert before < expiry <= time.time() + 900


def test_the_oauth_callback_uses_the_given_sessions_credentials() -> None:
    token, expiry = client_config(_iam(), session=_static_session())["oauth_cb"]("")
    _check_presigned_connect(token)
    assert expiry > time.time()


class _NoCredentials:
    def get_credentials(self) -> None:
        return None


def test_a_host_without_aws_credentials_gets_a_clear_error() -> None:
    callback = client_config(_iam(), session=_NoCredentials())["oauth_cb"]  # type: ignore[arg-type]
    with pytest.raises(KafkaEndpointError, match="no AWS credentials on this host"):
        callback(None)


# --- confluent-kafka takes every configuration -----------------------------------------


def test_confluent_kafka_accepts_each_configuration() -> None:
    """Constructing a Producer validates every property (an unknown or misspelt one
    raises) without waiting for a broker; nothing is produced."""
    local = client_config(KafkaEndpoint(_closed_port()))
    scram = client_config(
        KafkaEndpoint(
            _closed_port(), auth="scram", tls=True, region=REGION, credentials_secret=SECRET_ARN
        ),
        fetch_secret=lambda _: SCRAM_SECRET,
    )
    iam = client_config(
        KafkaEndpoint(_closed_port(), auth="iam", tls=True, region=REGION),
        session=_static_session(),
    )
    tokens: list[str] = []
    sign = iam["oauth_cb"]

    def recording(config: str | None) -> tuple[str, float]:
        token, expiry = sign(config)
        tokens.append(token)
        return token, expiry

    for config in (local, scram, {**iam, "oauth_cb": recording}):
        Producer(config)
    # The IAM producer asked for its first token as it started.
    assert tokens
    _check_presigned_connect(tokens[0])


# --- the health check ------------------------------------------------------------------


class _Admins:
    """Stands in for AdminClient: records each client's settings, answers metadata."""

    def __init__(self) -> None:
        self.configs: list[dict[str, Any]] = []
        self.failure: Exception | None = None

    def __call__(self, config: dict[str, Any]) -> _Admins:
        self.configs.append(config)
        return self

    def list_topics(self, timeout: float) -> Any:
        if self.failure:
            raise self.failure
        return type("Metadata", (), {"topics": {PROBES.name: None}})


@pytest.fixture
def admins(monkeypatch: pytest.MonkeyPatch) -> _Admins:
    fake = _Admins()
    monkeypatch.setattr(health, "AdminClient", fake)
    return fake


def test_the_health_check_asks_the_broker_with_the_endpoints_settings(admins: _Admins) -> None:
    local = health.check_kafka(KafkaEndpoint("127.0.0.1:9092"), (PROBES.name,))
    msk = health.check_kafka(_iam(), (PROBES.name,))
    assert (local.ok, local.endpoint) == (True, "127.0.0.1:9092")
    assert (msk.ok, msk.endpoint) == (True, MSK_BOOTSTRAP)
    local_config, msk_config = admins.configs
    assert local_config["security.protocol"] == "PLAINTEXT"
    assert msk_config["security.protocol"] == "SASL_SSL"
    assert msk_config["sasl.mechanisms"] == "OAUTHBEARER" and callable(msk_config["oauth_cb"])


def test_an_msk_health_failure_points_at_reachability_and_authentication(
    admins: _Admins,
) -> None:
    admins.failure = RuntimeError("SASL authentication error")
    msk = health.check_kafka(_iam(), (PROBES.name,))
    local = health.check_kafka(KafkaEndpoint("127.0.0.1:9092"), (PROBES.name,))
    assert not msk.ok and "MSK (iam)" in msk.hint and "authenticate" in msk.hint
    assert not local.ok and "supervisorctl status recstack-kafka" in local.hint
