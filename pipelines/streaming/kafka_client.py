"""The confluent-kafka configuration of every recstack Kafka client, from one endpoint
(recstack_contract/kafka.py: where the brokers are and how to authenticate).

- `none`: the local/testbed broker, PLAINTEXT, no authentication;
- `iam`: Amazon MSK, SASL/OAUTHBEARER with a token signed from the host's AWS
  credentials (its instance role), over TLS;
- `scram`: Amazon MSK, SASL/SCRAM-SHA-512 with the user and password read from the
  stack's Secrets Manager secret with the host's own role, over TLS.

MSK is always reached over TLS with the broker's certificate and name verified.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from recstack_contract.kafka import KafkaEndpoint, KafkaEndpointError

if TYPE_CHECKING:
    from botocore.session import Session

# Reads a Secrets Manager secret's SecretString, given its ARN.
SecretFetcher = Callable[[str], str]
# confluent-kafka calls it with sasl.oauthbearer.config (None when unset); it returns the
# token and when it expires, in seconds since the epoch.
TokenCallback = Callable[[str | None], tuple[str, float]]


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


def _default_session() -> Session:
    import botocore.session  # here for the same reason as the signer's import

    return botocore.session.Session()


def _secrets_manager(session: Session, region: str) -> SecretFetcher:
    def fetch(secret_arn: str) -> str:
        client = session.create_client("secretsmanager", region_name=region)
        return client.get_secret_value(SecretId=secret_arn)["SecretString"]

    return fetch
