"""Failover on the deployed testbed: a Redis master dies while recommendations are being
requested from both Triton hosts. The serving path keeps answering (retrying, then
labelling a degraded answer), a replica takes over, and the old master rejoins as a
replica.

Needs `recstack testbed up` and `recstack up testbed`. Writes what it measured to
.recstack/testbed/failover.json and prints it: the cluster's failover time, the window
in which answers were slow or degraded, and the failed requests (the goal is zero).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass

import pytest

from pipelines.serving import keys
from recstack import client, endpoints, environments, health, secrets, testbed

pytestmark = pytest.mark.testbed_deployed

# Requests slower than this count as affected (normal answers take a few milliseconds).
SLOW_S = 0.5
CLIENTS_PER_TRITON = 2


@dataclass
class Outcome:
    at: float
    seconds: float
    ok: bool
    degraded: bool
    blocked_items: int


@dataclass
class Report:
    killed_master: str
    cluster_failover_s: float
    rejoined_s: float
    requests: int
    requests_during_failover: int
    failed: int
    degraded: int
    slow: int
    affected_window_s: float
    max_latency_s: float


def _cluster_ok(where: endpoints.Endpoints, password: str, host: str) -> bool:
    try:
        info = where.redis_client(password, host=host).execute_command("CLUSTER", "INFO").decode()
    except Exception:  # the node itself may be the one down
        return False
    return "cluster_state:ok" in info


def _request_loop(
    url: str, users: list[int], blocked: set[int], outcomes: list[Outcome], stop: threading.Event
) -> None:
    index = 0
    while not stop.is_set():
        user = users[index % len(users)]
        index += 1
        started = time.monotonic()
        try:
            (rec,) = client.recommend(url, [user], timeout_s=15)
            shown = len(blocked & set(rec.item_ids))
            outcomes.append(Outcome(started, time.monotonic() - started, True, rec.degraded, shown))
        except Exception:  # a failed request is what this test counts
            outcomes.append(Outcome(started, time.monotonic() - started, False, False, 0))
        time.sleep(0.02)


def test_killing_a_redis_master_keeps_recommendations_flowing() -> None:
    environment = environments.get("testbed")
    where = endpoints.load(environment)
    password = secrets.redis_password(environment)
    cluster = where.redis_client(password)
    users = health.users_with_history(cluster, where.key_prefix)[:64]
    blocked = {int(i) for i in cluster.smembers(keys.blocked(where.key_prefix))}
    assert blocked, "the testbed deploys a blocklist; without one this test proves less"
    seed = where.redis_hosts[0]
    masters = [
        n
        for n in health.cluster_nodes(where.redis_client(password, host=seed))
        if "master" in n["flags"] and n["slots"]
    ]
    victim = next(n for n in masters if n["host"] != seed)
    victim_host = next(h for h in testbed.HOSTS if str(h.address) == victim["host"])
    observer = next(h for h in where.redis_hosts if h != victim["host"])

    outcomes: list[Outcome] = []
    stop = threading.Event()
    loops = [
        threading.Thread(
            target=_request_loop, args=(where.grpc_url(host), users, blocked, outcomes, stop)
        )
        for host in where.triton_hosts
        for _ in range(CLIENTS_PER_TRITON)
    ]
    for loop in loops:
        loop.start()
    supervisord_pid: int | None = None
    try:
        time.sleep(2.0)  # a baseline of normal answers
        supervisord_pid = int(testbed.run_on(victim_host, "supervisorctl pid").stdout)
        killed_at = time.monotonic()
        # A crash that stays down: freeze supervisord (it would restart Redis before any
        # failover), then SIGKILL Redis. Stopping the program instead would race with
        # that restart and could wait out a graceful shutdown of the restarted server.
        result = testbed.run_on(
            victim_host, f"kill -STOP {supervisord_pid} && pkill -9 -x redis-server"
        )
        assert result.returncode == 0, result.stderr
        promoted = None
        while time.monotonic() < killed_at + 30:
            nodes = health.cluster_nodes(where.redis_client(password, host=observer))
            promoted = next(
                (
                    n
                    for n in nodes
                    if "master" in n["flags"]
                    and n["slots"]
                    and n["host"] not in {m["host"] for m in masters}
                ),
                None,
            )
            if promoted and _cluster_ok(where, password, observer):
                break
            time.sleep(0.1)
        failover_s = time.monotonic() - killed_at
        assert promoted is not None, "no replica took over the killed master's slots within 30 s"
        time.sleep(3.0)  # answers after the failover
    finally:
        stop.set()
        for loop in loops:
            loop.join()
        restarted_at = time.monotonic()
        # Thawed, supervisord sees the crash and restarts Redis as it would after any.
        if supervisord_pid is not None:
            testbed.run_on(victim_host, f"kill -CONT {supervisord_pid}")

    while time.monotonic() < restarted_at + 60:
        nodes = health.cluster_nodes(where.redis_client(password, host=observer))
        rejoined = next(n for n in nodes if n["id"] == victim["id"])
        if (
            "slave" in rejoined["flags"]
            and "fail" not in rejoined["flags"]
            and all(_cluster_ok(where, password, h) for h in where.redis_hosts)
        ):
            break
        time.sleep(0.2)
    rejoined_s = time.monotonic() - restarted_at

    affected = [o for o in outcomes if not o.ok or o.degraded or o.seconds > SLOW_S]
    report = Report(
        killed_master=victim["host"],
        cluster_failover_s=round(failover_s, 2),
        rejoined_s=round(rejoined_s, 2),
        requests=len(outcomes),
        requests_during_failover=sum(killed_at <= o.at <= killed_at + failover_s for o in outcomes),
        failed=sum(not o.ok for o in outcomes),
        degraded=sum(o.degraded for o in outcomes),
        slow=sum(o.seconds > SLOW_S for o in outcomes),
        affected_window_s=round(
            max(o.at + o.seconds for o in affected) - min(o.at for o in affected), 2
        )
        if affected
        else 0.0,
        max_latency_s=round(max(o.seconds for o in outcomes), 2),
    )
    (environment.state_dir / "failover.json").write_text(json.dumps(asdict(report), indent=2))
    print(json.dumps(asdict(report), indent=2))

    # The outage was really exercised: clients kept sending while the cluster failed over.
    assert report.requests_during_failover >= 2 * len(loops)
    assert report.failed == 0, f"{report.failed} requests failed during the failover"
    assert not any(o.blocked_items for o in outcomes), "a (degraded) answer showed a blocked item"
    # The old master is back, as a replica on another host than its new master.
    nodes = health.cluster_nodes(where.redis_client(password, host=observer))
    rejoined = next(n for n in nodes if n["id"] == victim["id"])
    assert "slave" in rejoined["flags"] and "fail" not in rejoined["flags"], rejoined
    new_master = next(n for n in nodes if n["id"] == rejoined["master_id"])
    assert new_master["host"] != rejoined["host"]
    assert all(_cluster_ok(where, password, h) for h in where.redis_hosts)
