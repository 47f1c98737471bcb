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
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from recstack_contract.kafka import KafkaEndpoint, KafkaEndpointError, Topic

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


# How long one poll waits for messages: the loop checks `stop` this often.
POLL_S = 0.05


def consumer_config(endpoint: KafkaEndpoint, group: str) -> dict[str, Any]:
    """A recstack consumer in `group`: it commits what it has applied (commit_applied)."""
    return {
        **client_config(endpoint),
        "group.id": group,
        # Commits follow the writes, never a timer.
        "enable.auto.commit": False,
        # A new group starts at the oldest message: none is skipped, replays are harmless.
        "auto.offset.reset": "earliest",
        # A member that died is replaced after this; the local broker also makes a
        # joining member wait about half of it (23 s with the 45 s default).
        "session.timeout.ms": 6000,
        # The local broker answers a fetch only when its wait is over, even if messages
        # arrived meanwhile: the default 500 ms would be most of the freshness budget.
        # Shorter waits mean more fetches, and each costs that broker a scan of every
        # batch it holds (README, Limits). MSK answers as soon as data arrives; there
        # this only bounds idle polling.
        "fetch.wait.max.ms": 100,
    }


def received(messages: list[Message]) -> list[Message]:
    """The messages that carry data. A fatal error (authentication, say) is raised: the
    client cannot go on; another is logged and skipped."""
    kept = []
    for message in messages:
        if (error := message.error()) is None:
            kept.append(message)
        elif error.fatal():
            raise KafkaException(error)
        else:
            print(f"consumer error: {error}", file=sys.stderr, flush=True)
    return kept


def commit_applied(consumer: Consumer, messages: list[Message]) -> None:
    """Commit past `messages` (all applied), synchronously."""
    ends: dict[tuple[str, int], int] = {}
    for message in messages:
        ends[(message.topic(), message.partition())] = message.offset() + 1
    if not ends:
        return
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, offset) for (t, p), offset in ends.items()],
            asynchronous=False,
        )
    except KafkaException as error:
        # A rebalance took the partitions meanwhile: their new owner applies the batch
        # again, which changes nothing. Crashing would only rebalance again.
        print(f"commit refused, the batch will be replayed: {error}", flush=True)


def committed_lag(endpoint: KafkaEndpoint, group: str, topic: Topic) -> int:
    """Messages on `topic` past `group`'s commits: 0 once the group has applied
    everything sent so far (a partition it never committed counts from its start)."""
    consumer = Consumer({**client_config(endpoint), "group.id": group})
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        lag = 0
        for position in consumer.committed(partitions, timeout=10):
            low, high = consumer.get_watermark_offsets(position, timeout=10)
            # The local broker can report an end below a commit it accepted.
            lag += max(0, high - max(position.offset, low))
        return lag
    finally:
        consumer.close()


def stop_on_signals() -> threading.Event:
    """Set by SIGTERM or SIGINT: a service finishes and commits the batch in hand, then
    leaves its group."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def consume_until(
    stop: threading.Event,
    consumer: Consumer,
    handle: Callable[[list[Message]], None],
    batch_max: int,
    every: tuple[float, Callable[[], None]],
) -> None:
    """Hand each batch of messages (at most batch_max, none with an error) to `handle`
    until `stop` is set, call every[1] every every[0] seconds, then leave the group:
    the partitions move to the group's other members at once, not after a timeout."""
    interval_s, periodic = every
    next_due = 0.0
    try:
        while not stop.is_set():
            messages = received(consumer.consume(batch_max, POLL_S))
            if messages:
                handle(messages)
            if time.time() >= next_due:
                periodic()
                next_due = time.time() + interval_s
    finally:
        consumer.close()


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
