"""The inventory names each self-managed host's data volume, which the data_volume role
finds by id on the host (the serving hosts' volumes come from a launch template and are
not known at deploy time)."""

from __future__ import annotations

import re

from conftest import run_program, stack_file

from hosts import DATA_DEVICE


def test_every_trainer_and_redis_host_carries_its_data_volume_id() -> None:
    result = run_program(stack_file("staging"))  # self-hosted Redis: both groups have hosts
    volumes = {
        f"{instance.name}-id": device["volumeId"]
        for instance in result.mocks.of_type("aws:ec2/instance:Instance")
        for device in instance.state["ebsBlockDevices"]
        if device["deviceName"] == DATA_DEVICE
    }
    groups = result.outputs["inventory"]["groups"]
    hosts = groups["trainer"]["hosts"] + groups["redis"]["hosts"]

    assert len(hosts) == len(volumes) == 7  # 1 trainer, 3 shards x 2 copies
    for host in hosts:
        assert re.fullmatch(r"vol-[0-9a-f]{17}", host["data_volume_id"]), host
        assert host["data_volume_id"] == volumes[host["instance_id"]]
    assert len({host["data_volume_id"] for host in hosts}) == len(hosts)
