"""The online trainer service: interaction events in, embedding updates out, in HPS's
message format on the table's topic, where the HPS updaters (updater.py) and HPS itself
on a GPU host apply them.

    python -m pipelines.hugectr.trainer --config pipeline.yml

It runs on the trainer hosts in its own consumer group (ONLINE_TRAINER_GROUP) on
`recstack.interactions`. Per batch (up to BATCH_MAX events): decode (a message that is
no valid event is counted by reason and skipped; the stream processor dead-letters
it), one SGD step (online_training.py), publish the changed rows as HugeCTR's producer
does (hps_messages.sink_messages), wait until the broker acknowledged them, and only
then commit. A crash in between trains the batch again when it is replayed: its rows
take the step twice, which a later step corrects like any noise; nothing is lost.

A newly published model (a new artifacts version) is picked up between batches: the
trainer drops the rows it held and starts again from the new table. Every
status.INTERVAL_S it writes its counts to its status record (serving/service_status.py;
`recstack status` shows it) and logs them when they changed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer

from recstack_contract import hps
from recstack_contract.events import InvalidEvent, decode
from recstack_contract.kafka import (
    EMBEDDINGS,
    HPS_VOLATILE_GROUP,
    INTERACTIONS,
    ONLINE_TRAINER_GROUP,
    KafkaEndpoint,
    from_environment,
)

from ..artifacts import load_latest
from ..config import PipelineConfig, load_config
from ..online import redis_connection, until_redis_answers
from ..serving import feast_layout, keys
from ..serving import service_status as status
from ..serving.hps_messages import MAX_MESSAGE_BYTES, Update, sink_messages
from ..serving.hps_redis import RedisTier
from ..serving.kafka_client import (
    client_config,
    commit_applied,
    committed_lag,
    consume_until,
    consumer_config,
    stop_on_signals,
)
from ..streaming.store import STREAM_LAYOUT
from .online_training import OnlineTrainer, PublishedModel

BATCH_MAX = 2000
PUBLISH_TIMEOUT_S = 30.0
# How long a batch waits for an unreachable Redis before the process gives up.
REDIS_OUTAGE_S = 120.0
# The status fields the log repeats, when they changed (with skipped:<reason>).
LOGGED = ("model_version", "events", "trained", "rows_published", "skipped")


def producer_config(endpoint: KafkaEndpoint) -> dict:
    """As HugeCTR's producer (KafkaMessageSink): messages up to its send buffer, each
    delivered once and in order, uncompressed (the vectors are noise to a codec); a
    short linger, since an update is only as fresh as its last message."""
    return {
        **client_config(endpoint),
        "acks": "all",
        "enable.idempotence": True,
        "compression.codec": "none",
        "message.max.bytes": MAX_MESSAGE_BYTES + 1024,
        "linger.ms": 5,
    }


def settled(endpoint: KafkaEndpoint) -> bool:
    """Every interaction sent so far is trained and its rows are in Redis: the trainer's
    group and the updater's have committed everything on their topics."""
    return not (
        committed_lag(endpoint, ONLINE_TRAINER_GROUP, INTERACTIONS)
        or committed_lag(endpoint, HPS_VOLATILE_GROUP, EMBEDDINGS)
    )


class TrainerService:
    def __init__(self, cfg: PipelineConfig, client, producer: Producer) -> None:
        self._cfg = cfg
        self._client = client
        self._producer = producer
        self._tier = RedisTier(client, cfg.hps.num_partitions)
        self.messages_published = 0
        self.trainer = self._new_trainer(
            PublishedModel.load(cfg.paths.artifacts_dir, cfg.paths.data_dir)
        )

    def _new_trainer(self, model: PublishedModel) -> OnlineTrainer:
        tag = hps.table_tag()
        return OnlineTrainer(
            model,
            lambda table_keys: self._tier.read(tag, table_keys),
            lambda user_ids: feast_layout.read_rows(self._client, STREAM_LAYOUT, user_ids)[0],
            self._cfg.online_training.learning_rate,
            self._cfg.online_training.rows_in_memory,
        )

    def reload_if_published(self) -> None:
        """A new model version: start again from its table (counts carry on)."""
        version = load_latest(self._cfg.paths.artifacts_dir).version
        if version != self.trainer.model.version:
            counts = self.trainer.counts
            paths = self._cfg.paths
            self.trainer = self._new_trainer(
                PublishedModel.load(paths.artifacts_dir, paths.data_dir)
            )
            self.trainer.counts = counts
            print(f"model {version} published: training its table from now on", flush=True)

    def handle(self, consumer: Consumer, messages: list) -> None:
        now = time.time()
        events = []
        for message in messages:
            try:
                events.append(decode(message.key(), message.value(), now))
            except InvalidEvent as refused:
                self.trainer.counts.skipped[refused.reason] += 1
        if events:
            self.publish(until_redis_answers(lambda: self.trainer.step(events), REDIS_OUTAGE_S))
        commit_applied(consumer, messages)

    def publish(self, update: Update) -> None:
        for partition, value in sink_messages(update, EMBEDDINGS.partitions):
            self._producer.produce(
                EMBEDDINGS.name, value=value, partition=partition, on_delivery=_raise_undelivered
            )
            self.messages_published += 1
        if self._producer.flush(PUBLISH_TIMEOUT_S):
            raise RuntimeError("the broker did not acknowledge the embedding updates")

    def counts(self) -> dict[str, object]:
        """The trainer's part of its status record."""
        counts = self.trainer.counts
        fields: dict[str, object] = {
            "model_version": self.trainer.model.version,
            "events": counts.events,
            "trained": counts.trained,
            "rows_published": counts.rows,
            "messages_published": self.messages_published,
            "rows_in_memory": len(self.trainer.rows),
            "loss": round(counts.loss, 5),
            "skipped": sum(counts.skipped.values()),
        }
        fields.update({f"skipped:{r}": n for r, n in counts.skipped.items()})
        return fields


def _raise_undelivered(error, _message) -> None:
    # Raised out of flush(): the batch's offsets are not committed.
    if error is not None:
        raise KafkaException(error)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.hugectr.trainer")
    parser.add_argument("--config", type=Path, required=True, help="the pipeline config file")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    endpoint = from_environment()
    client = redis_connection()
    service = TrainerService(cfg, client, Producer(producer_config(endpoint)))
    consumer = Consumer(consumer_config(endpoint, ONLINE_TRAINER_GROUP))
    consumer.subscribe([INTERACTIONS.name])
    name = status.host_name()
    reporter = status.Reporter(
        client, keys.online_trainer(cfg.serving.key_prefix, name), name, LOGGED
    )
    print(
        f"online trainer {name}: group {ONLINE_TRAINER_GROUP}, {INTERACTIONS.name} -> "
        f"{EMBEDDINGS.name}, model {service.trainer.model.version}",
        flush=True,
    )

    stop = stop_on_signals()

    def report() -> None:
        service.reload_if_published()
        reporter(service.counts())

    consume_until(
        stop,
        consumer,
        lambda batch: service.handle(consumer, batch),
        BATCH_MAX,
        (status.INTERVAL_S, report),
    )


if __name__ == "__main__":
    main()
