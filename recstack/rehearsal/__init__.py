"""The rehearsal: a cloud stack's own variables, deployed onto the testbed's hosts.

`recstack up rehearsal-<stack>` takes the stack's `inventory` output from the Pulumi
program under mocks (outputs.py), binds it to the testbed (binding.py says exactly what
is substituted and why), writes the inventory into the environment's state directory,
makes the stand-in CA when the stack uses managed Redis (tls.py), and then runs
playbooks/rehearsal.yml (the stand-ins for managed services) and the same site.yml as
every environment. The testbed must be up (`recstack testbed up`).
"""

from __future__ import annotations

import yaml

from recstack import cloud_inventory, environments, secrets
from recstack.testbed import SHARED_DIR, is_up
from recstack.testbed import inventory as testbed_inventory
from recstack_contract.secrets import REDIS_PASSWORD

from . import tls, volumes
from .binding import CA_FILE, STAND_IN_REDIS, Binding, BindingError, bind
from .outputs import OutputsError, stack_outputs

__all__ = ["BindingError", "OutputsError", "RehearsalError", "prepare"]


class RehearsalError(RuntimeError):
    pass


def prepare(environment: environments.Environment) -> Binding:
    """Write the rehearsal inventory of `environment` (rehearsal-<stack>)."""
    if not is_up():
        raise RehearsalError("the testbed is not up: run `recstack testbed up` first")
    stack = environment.name.removeprefix(environments.REHEARSAL_PREFIX)
    document = stack_outputs(stack)["inventory"]
    binding = bind(
        document,
        environment.name,
        testbed_inventory.connection_variables(),
        SHARED_DIR / environment.name / "model_repository",
    )
    cloud_inventory.check_variables(binding.variables)
    hosts = _with_volumes(environment, binding.hosts)
    if binding.redis_stand_ins:
        hosts = _with_certificates(environment, binding, hosts)
    directory = environment.inventory
    cloud_inventory.write_variables(binding.variables, directory)
    (directory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=True))
    secrets.ensure(environment, REDIS_PASSWORD)
    return binding


def _with_volumes(environment: environments.Environment, hosts: dict) -> dict:
    """Each host's stand-in EBS volume, as the host variable rehearsal_volume_device."""
    hosts = yaml.safe_load(yaml.safe_dump(hosts))
    members = [
        host
        for group in hosts["all"]["children"].values()
        for host in (group.get("hosts") or {}).values()
        if "data_volume_id" in host
    ]
    devices = volumes.attach(environment, [host["data_volume_id"] for host in members])
    for host in members:
        host["rehearsal_volume_device"] = devices[host["data_volume_id"]]
    return hosts


def _with_certificates(
    environment: environments.Environment, binding: Binding, hosts: dict
) -> dict:
    """The stand-in servers' certificates, and the CA on the controller; the hosts get
    them from playbooks/rehearsal.yml."""
    directory = environment.state_dir / "tls"
    authority = tls.ensure_authority(directory)
    if not CA_FILE.exists() or CA_FILE.read_bytes() != authority.read_bytes():
        CA_FILE.parent.mkdir(parents=True, exist_ok=True)
        CA_FILE.write_bytes(authority.read_bytes())
        CA_FILE.chmod(0o644)
    hosts["all"]["vars"]["rehearsal_ca_source"] = str(authority)
    hosts["all"]["vars"]["rehearsal_ca_file"] = str(CA_FILE)
    servers = hosts["all"]["children"][STAND_IN_REDIS]["hosts"]
    for name, address in binding.redis_stand_ins:
        files = tls.ensure_server(directory, name, [address])
        servers[name]["rehearsal_certificate_source"] = str(files.certificate)
        servers[name]["rehearsal_key_source"] = str(files.key)
    return hosts
