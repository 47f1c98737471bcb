"""The confluent-kafka configuration of every recstack Kafka client, from one endpoint.

An endpoint says where the broker is and how to authenticate:

- `none`: the local/testbed broker, PLAINTEXT, no authentication;
- `iam`: Amazon MSK, SASL/OAUTHBEARER with a token signed from the host's AWS
  credentials (its instance role), over TLS;
- `scram`: Amazon MSK, SASL/SCRAM-SHA-512 with the user and password kept in the stack's
  Secrets Manager secret, over TLS.

MSK is always reached over TLS with the broker's certificate and name verified. The
endpoint travels to processes as the environment variables RECSTACK_KAFKA_<FIELD>
(`KafkaEndpoint.environment()`, read back by `from_environment()`); it names the SCRAM
secret but never holds its value, which each host reads with its own role.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from recstack_contract.kafka import AUTH_MODES, ENVIRONMENT_PREFIX

if TYPE_CHECKING:
    from botocore.session import Session

# Processes get the endpoint as RECSTACK_KAFKA_BOOTSTRAP, RECSTACK_KAFKA_AUTH, ...
_FIELDS = ("bootstrap", "auth", "tls", "region", "credentials_secret")

# Reads a Secrets Manager secret's SecretString, given its ARN.
SecretFetcher = Callable[[str], str]
# confluent-kafka calls it with sasl.oauthbearer.config (None when unset); it returns the
# token and when it expires, in seconds since the epoch.
TokenCallback = Callable[[str | None], tuple[str, float]]


class KafkaEndpointError(ValueError):
    """An endpoint or its credentials that no client could use; says what to fix."""


@dataclass(frozen=True)
class KafkaEndpoint:
    # Comma-separated host:port pairs.
    bootstrap: str
    auth: str = "none"
    tls: bool = False
    # The cluster's AWS region: it signs IAM tokens and locates the SCRAM secret.
    region: str = ""
    # ARN of the Secrets Manager secret with the SCRAM user (auth scram only).
    credentials_secret: str = ""

    def __post_init__(self) -> None:
        if not self.bootstrap.strip(","):
            raise KafkaEndpointError(
                "kafka endpoint: bootstrap is empty → set it to the brokers' host:port list "
                "(the stack's kafka endpoint, or the kafka hosts and kafka_port)"
            )
        if self.auth not in AUTH_MODES:
            raise KafkaEndpointError(
                f"kafka endpoint: auth {self.auth!r} is unknown → set auth to one of "
                f"{', '.join(AUTH_MODES)}"
            )
        if self.auth == "none" and self.tls:
            raise KafkaEndpointError(
                "kafka endpoint: tls is true with auth 'none'; only MSK uses TLS and it always "
                "authenticates → set auth to iam or scram, or tls to false for the local broker"
            )
        if self.auth != "none" and not self.tls:
            raise KafkaEndpointError(
                f"kafka endpoint: auth {self.auth!r} needs tls true (MSK never takes SASL "
                "without TLS) → set tls to true"
            )
        if self.auth != "none" and not self.region:
            raise KafkaEndpointError(
                f"kafka endpoint: auth {self.auth!r} needs region, the cluster's AWS region "
                "→ add region to the endpoint"
            )
        if self.auth == "scram" and not self.credentials_secret:
            raise KafkaEndpointError(
                "kafka endpoint: auth 'scram' needs credentials_secret, the ARN of the "
                "Secrets Manager secret with the SCRAM user → add the stack's "
                "credentials_secret to the endpoint"
            )

    def environment(self) -> dict[str, str]:
        """The endpoint as process environment variables, RECSTACK_KAFKA_<FIELD>: plain
        values (no quoting needed by any service manager)."""
        values = asdict(self) | {"tls": "true" if self.tls else "false"}
        return {_variable(name): values[name] for name in _FIELDS}


def parse_endpoint(raw: Mapping[str, Any]) -> KafkaEndpoint:
    """The endpoint from its mapping (the Ansible variable `recstack_kafka`, which a cloud
    stack exports: bootstrap, auth, tls, region, credentials_secret)."""
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise KafkaEndpointError(
            f"kafka endpoint: unknown key {unknown[0]!r} → use only {', '.join(_FIELDS)}"
        )
    texts = {}
    for name in ("bootstrap", "auth", "region", "credentials_secret"):
        value = raw.get(name, "none" if name == "auth" else "")
        if not isinstance(value, str):
            raise KafkaEndpointError(
                f"kafka endpoint: {name} must be a string, got {type(value).__name__} "
                f"→ set {name} to a string"
            )
        texts[name] = value
    tls = raw.get("tls", False)
    if not isinstance(tls, bool):
        raise KafkaEndpointError(
            f"kafka endpoint: tls must be true or false, got {tls!r} → set tls to a boolean"
        )
    return KafkaEndpoint(**texts, tls=tls)


def from_environment(env: Mapping[str, str] = os.environ) -> KafkaEndpoint:
    """The endpoint a process was given (`KafkaEndpoint.environment()`); only the
    bootstrap list is required, the other fields default to the local broker's."""
    if not env.get(_variable("bootstrap")):
        raise KafkaEndpointError(
            f"{_variable('bootstrap')} is not set → pass the kafka endpoint to the process "
            "(KafkaEndpoint.environment())"
        )
    raw: dict[str, Any] = {name: env[_variable(name)] for name in _FIELDS if _variable(name) in env}
    if "tls" in raw:
        if raw["tls"] not in ("true", "false"):
            raise KafkaEndpointError(
                f"{_variable('tls')} must be true or false, got {raw['tls']!r}"
            )
        raw["tls"] = raw["tls"] == "true"
    return parse_endpoint(raw)


def client_config(
    endpoint: KafkaEndpoint,
    *,
    session: Session | None = None,
    fetch_secret: SecretFetcher | None = None,
) -> dict[str, Any]:
    """The confluent-kafka settings (Producer, Consumer or AdminClient) for `endpoint`.

    `session` is the botocore session whose credentials sign IAM tokens and read the
    SCRAM secret (default: a new one, i.e. the environment, the AWS config files or the
    instance role). `fetch_secret` replaces the Secrets Manager read.
    """
    config: dict[str, Any] = {"bootstrap.servers": endpoint.bootstrap}
    if endpoint.auth == "none":
        return config | {"security.protocol": "PLAINTEXT"}
    config |= {
        "security.protocol": "SASL_SSL",
        # librdkafka's defaults, stated so that no merged setting can turn them off
        # unnoticed: the broker's certificate and its host name are checked.
        "enable.ssl.certificate.verification": True,
        "ssl.endpoint.identification.algorithm": "https",
    }
    if endpoint.auth == "iam":
        return config | {
            "sasl.mechanisms": "OAUTHBEARER",
            "oauth_cb": _iam_token_callback(endpoint.region, session or _default_session()),
        }
    fetch = fetch_secret or _secrets_manager(session or _default_session(), endpoint.region)
    username, password = _scram_credentials(endpoint.credentials_secret, fetch)
    return config | {
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": username,
        "sasl.password": password,
    }


def _iam_token_callback(region: str, session: Session) -> TokenCallback:
    """confluent-kafka's oauth_cb for MSK IAM: a fresh token signed with the session's
    current credentials each time the client asks (it does before the token expires)."""
    # Imported here: only MSK clients need the signer, and local ones skip importing boto3.
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    from botocore.credentials import CredentialProvider, Credentials

    class SessionCredentials(CredentialProvider):
        METHOD = "recstack-session"

        def load(self) -> Credentials:
            credentials = self.session.get_credentials()
            if credentials is None:
                raise KafkaEndpointError(
                    "kafka (MSK IAM): no AWS credentials on this host → attach the instance "
                    "role (or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
                )
            return credentials

    provider = SessionCredentials(session)

    def token(_oauthbearer_config: str | None) -> tuple[str, float]:
        value, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(
            region, provider
        )
        # The signer answers in milliseconds since the epoch, confluent-kafka takes seconds.
        return value, expiry_ms / 1000

    return token


def _scram_credentials(secret_arn: str, fetch: SecretFetcher) -> tuple[str, str]:
    """The SCRAM user and password from the secret MSK reads them from: a JSON object with
    `username` and `password` (MSK's required format). Errors never quote the secret."""
    try:
        secret = json.loads(fetch(secret_arn))
    except json.JSONDecodeError:
        raise KafkaEndpointError(
            f"kafka (MSK SCRAM): secret {secret_arn} is not JSON → store "
            '{"username": ..., "password": ...} in it'
        ) from None
    fields = secret if isinstance(secret, dict) else {}
    missing = [
        k for k in ("username", "password") if not isinstance(fields.get(k), str) or not fields[k]
    ]
    if missing:
        raise KafkaEndpointError(
            f"kafka (MSK SCRAM): secret {secret_arn} has no {' or '.join(missing)} → store "
            '{"username": ..., "password": ...} in it (non-empty strings)'
        )
    return fields["username"], fields["password"]


def _variable(name: str) -> str:
    return f"{ENVIRONMENT_PREFIX}{name.upper()}"


def _default_session() -> Session:
    import botocore.session  # here for the same reason as the signer's import

    return botocore.session.Session()


def _secrets_manager(session: Session, region: str) -> SecretFetcher:
    def fetch(secret_arn: str) -> str:
        client = session.create_client("secretsmanager", region_name=region)
        return client.get_secret_value(SecretId=secret_arn)["SecretString"]

    return fetch
