"""The status records the streaming services write (recstack status, the readiness waits
and the deployed tests read them), on a real (throwaway) Redis."""

from __future__ import annotations

import redis

from pipelines.serving import service_status


def test_a_restarted_service_replaces_its_predecessors_record(
    redis_server: tuple[str, int],
) -> None:
    client = redis.Redis(host=redis_server[0], port=redis_server[1])
    key = "t:hps-updater:volatile:host-a"
    before = service_status.Reporter(client, key, "host-a", ("messages",))
    before({"messages": 9, "skipped": 3, "skipped:value_size": 3})
    assert service_status.read(client, key)["skipped:value_size"] == "3"

    after = service_status.Reporter(client, key, "host-a", ("messages",))
    after({"messages": 1, "skipped": 0})
    record = service_status.read(client, key)
    # Its own counts only: the predecessor's count by reason does not stay behind.
    assert record["messages"] == "1" and "skipped:value_size" not in record
    # Later reports of the same process add the reasons they gain.
    after({"messages": 2, "skipped": 1, "skipped:magic": 1})
    record = service_status.read(client, key)
    assert record["skipped:magic"] == "1" and record["messages"] == "2"
    assert client.ttl(key) > 0
