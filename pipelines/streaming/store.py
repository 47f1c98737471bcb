"""What an interaction event changes in Redis, in two pipelined round trips per batch.

1. Per user in the batch: the activity script (activity.py) on their activity ZSET, and
   SADD of their clicked and purchased items to their history set, which the filtering
   stage excludes from the next answer.
2. Per user: their `user_stream_features` row in Feast's layout (values and the event
   timestamp), written from what step 1 returned.

Every write is idempotent (set unions, maxima, a set of clicks keyed by event_id, and a
row rewritten from that state), so a batch applied twice, or cut short by a crash and
applied again, leaves exactly what one application leaves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from recstack_contract.events import Event
from recstack_contract.features import FEAST_PROJECT, NO_CATEGORY, USER_STREAM_FEATURES

from ..serving import feast_layout, keys
from . import activity

# Events that put the item in the user's history (the filtering stage drops it).
HISTORY_TYPES = ("click", "purchase")

STREAM_LAYOUT = feast_layout.FeastViewLayout.of(FEAST_PROJECT, USER_STREAM_FEATURES)


class ActivityStore:
    """Applies batches of valid events; `categories` maps item id to category."""

    def __init__(self, client, key_prefix: str, categories: Mapping[int, int]) -> None:
        self._client = client
        self._prefix = key_prefix
        self.categories = categories
        self._ts_field = feast_layout.timestamp_field(STREAM_LAYOUT.view)

    def apply(self, events: Sequence[Event]) -> None:
        by_user: dict[int, list[Event]] = defaultdict(list)
        for event in events:
            by_user[event.user_id].append(event)
        self._write(by_user)

    def refresh(self, users: Sequence[int]) -> None:
        """Rewrite the users' Feast rows from their activity state as it stands (the
        publish step, once it seeded the state from a new log); every user must have a
        state."""
        self._write({user: [] for user in users})

    def _write(self, by_user: Mapping[int, Sequence[Event]]) -> None:
        users = sorted(by_user)
        pipe = self._client.pipeline(transaction=False)
        for user in users:
            arguments: list[str] = [repr(activity.WINDOW_S)]
            for event in by_user[user]:
                is_click = event.type == "click"
                member = activity.click_member(event.event_id, event.item_id) if is_click else ""
                arguments += [repr(float(event.ts)), "1" if is_click else "0", member]
            key = keys.activity(self._prefix, user)
            # As a raw command: cluster pipelines refuse eval() but route EVAL by its key.
            pipe.execute_command("EVAL", activity.APPLY_SCRIPT, 1, key, *arguments)
            history = {e.item_id for e in by_user[user] if e.type in HISTORY_TYPES}
            if history:
                pipe.sadd(keys.seen(self._prefix, user), *sorted(history))
        replies = pipe.execute()
        states = [reply for reply in replies if isinstance(reply, list)]
        clicks_field, category_field = STREAM_LAYOUT.fields
        pipe = self._client.pipeline(transaction=False)
        for user, (clicks, newest, latest) in zip(users, states, strict=True):
            newest = newest.decode() if isinstance(newest, bytes) else newest
            category = (
                self.categories.get(activity.item_of_member(newest), NO_CATEGORY)
                if newest
                else NO_CATEGORY
            )
            pipe.hset(
                STREAM_LAYOUT.entity_key(user),
                mapping={
                    clicks_field: feast_layout.encode_int64(int(clicks)),
                    category_field: feast_layout.encode_int64(category),
                    self._ts_field: feast_layout.encode_timestamp(float(latest)),
                },
            )
        pipe.execute()
