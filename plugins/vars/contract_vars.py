"""Ansible vars plugin: the cross-layer contract as the variable `recstack_contract`.

Every inventory (local, testbed, a cloud stack's) gets the same values the Pulumi program
and the pipelines read, from `recstack_contract` itself: group_vars and role defaults
refer to `recstack_contract.ports.redis` and the like instead of repeating numbers.
The variable is attached to the `all` group, so any inventory or extra variable still
overrides what it derives from it.
"""

from __future__ import annotations

from ansible.inventory.group import Group
from ansible.plugins.vars import BaseVarsPlugin

import recstack_contract

DOCUMENTATION = """
    name: contract_vars
    short_description: recstack's cross-layer contract as the variable recstack_contract
    description: Loads recstack_contract.variables() into the all group.
    options: {}
"""


class VarsModule(BaseVarsPlugin):
    REQUIRES_ENABLED = False

    def get_vars(self, loader, path, entities, cache=True):
        if not isinstance(entities, list):
            entities = [entities]
        if any(isinstance(e, Group) and e.name == "all" for e in entities):
            return {"recstack_contract": recstack_contract.variables()}
        return {}
