"""Interaction events: what clients publish on the interactions topic.

A message's key is the user id as decimal text, so one user's events share a partition
and stay in order; its value is a UTF-8 JSON object:

    {"event_id": str, "user_id": int, "item_id": int, "type": str, "ts": float}

`event_id` is unique per event (at most 64 characters): applying an event twice (a
replay, a restart) must change nothing, and consumers dedupe on it. `type` is one of
EVENT_TYPES; `ts` is when it happened, in unix seconds. An event that breaks these
rules is refused with one of REASONS.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

EVENT_TYPES = ("impression", "click", "purchase")
MAX_EVENT_ID_LENGTH = 64
# How far ahead of the consumer's clock an event's ts may be (producers' clock skew).
MAX_FUTURE_S = 300.0

# Why a message is no valid event (InvalidEvent.reason): what decode() finds wrong in
# the message itself, then what the stream processor finds against the deployed dataset.
DECODE_REASONS = (
    "not_utf8",
    "invalid_json",
    "not_an_object",
    "missing_field",
    "wrong_type",
    "bad_event_id",
    "unknown_type",
    "future_ts",
    "key_mismatch",
)
DATASET_REASONS = ("unknown_user", "unknown_item")
REASONS = DECODE_REASONS + DATASET_REASONS
_FIELDS: dict[str, tuple[type, ...]] = {
    "event_id": (str,),
    "user_id": (int,),
    "item_id": (int,),
    "type": (str,),
    "ts": (int, float),
}


class InvalidEvent(ValueError):
    """A message that is no valid event: `reason` (one of REASONS) and what is wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Event:
    event_id: str
    user_id: int
    item_id: int
    type: str
    ts: float

    def __post_init__(self) -> None:
        for name, types in _FIELDS.items():
            value = getattr(self, name)
            # bool is an int to Python, never to the contract.
            if isinstance(value, bool) or not isinstance(value, types):
                expected = " or ".join(t.__name__ for t in types)
                raise InvalidEvent("wrong_type", f"{name} must be {expected}, got {value!r}")
        try:
            in_range = math.isfinite(self.ts) and self.ts > 0
        except OverflowError:  # an integer too large for a float
            in_range = False
        if not in_range:
            raise InvalidEvent("wrong_type", f"ts must be positive unix seconds, got {self.ts!r}")
        if not 0 < len(self.event_id) <= MAX_EVENT_ID_LENGTH:
            raise InvalidEvent(
                "bad_event_id", f"event_id must be 1 to {MAX_EVENT_ID_LENGTH} characters"
            )
        try:
            self.event_id.encode("utf-8")
        except UnicodeEncodeError:  # JSON can carry a lone surrogate; UTF-8 cannot
            raise InvalidEvent("bad_event_id", "event_id is not valid Unicode text") from None
        if self.type not in EVENT_TYPES:
            raise InvalidEvent(
                "unknown_type", f"type {self.type!r} is not one of {', '.join(EVENT_TYPES)}"
            )

    def key(self) -> bytes:
        return str(self.user_id).encode()

    def value(self) -> bytes:
        # vars(), not asdict(): the fields are plain values, and asdict's deep copy
        # was most of a producer's time per event.
        return json.dumps(vars(self), separators=(",", ":")).encode()


def decode(key: bytes | None, value: bytes | None, now: float) -> Event:
    """The event in a message, or InvalidEvent naming the first rule it breaks; `now`
    (unix seconds) bounds how far in the future its ts may be."""
    try:
        text = (value or b"").decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidEvent("not_utf8", f"byte {error.start} is not UTF-8") from None
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidEvent("invalid_json", error.msg) from None
    except (ValueError, RecursionError) as error:  # a huge number, a deep nesting
        raise InvalidEvent("invalid_json", type(error).__name__) from None
    if not isinstance(raw, dict):
        raise InvalidEvent("not_an_object", f"the value is a JSON {type(raw).__name__}")
    missing = [name for name in _FIELDS if name not in raw]
    if missing:
        raise InvalidEvent("missing_field", f"no {', '.join(missing)}")
    event = Event(**{name: raw[name] for name in _FIELDS})
    if event.ts > now + MAX_FUTURE_S:
        raise InvalidEvent(
            "future_ts", f"ts {event.ts:.3f} is {event.ts - now:.0f} s ahead of the consumer"
        )
    if key != event.key():
        # Without the user's key one user's events would spread over partitions, and
        # so over consumers writing the same rows.
        raise InvalidEvent(
            "key_mismatch", f"key {key!r} is not the user id {event.user_id} as decimal text"
        )
    return event
