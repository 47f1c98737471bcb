"""The interaction event contract (recstack_contract/events.py): what a valid message is,
and the reason each kind of invalid one is refused with."""

from __future__ import annotations

import json

import pytest

from recstack_contract.events import DECODE_REASONS, MAX_FUTURE_S, Event, InvalidEvent, decode

NOW = 1_790_000_000.0
VALID = {"event_id": "e-1", "user_id": 23, "item_id": 5, "type": "click", "ts": NOW - 1}


def _message(**changes: object) -> bytes:
    return json.dumps({**VALID, **changes}).encode()


def test_an_event_round_trips_keyed_by_its_user() -> None:
    event = Event(**VALID)
    assert event.key() == b"23"
    assert json.loads(event.value()) == VALID
    assert decode(event.key(), event.value(), NOW) == event


def test_a_message_without_a_key_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="key_mismatch: key None"):
        decode(None, _message(), NOW)


# (key, value, reason, what the detail says): one case at least per reason.
INVALID = [
    (b"23", b"\xff{}", "not_utf8", "byte 0"),
    (b"23", b"{", "invalid_json", ""),
    (b"23", b"[1, 2]", "not_an_object", "list"),
    (b"23", json.dumps({"user_id": 23}).encode(), "missing_field", "event_id, item_id"),
    (b"23", _message(user_id="23"), "wrong_type", "user_id must be int"),
    (b"23", _message(item_id=True), "wrong_type", "item_id must be int"),
    (b"23", _message(ts="now"), "wrong_type", "ts must be int or float"),
    (b"23", _message(ts=-1e300), "wrong_type", "positive unix seconds"),
    (b"23", _message(ts=10**400), "wrong_type", "positive unix seconds"),
    (b"23", b'{"ts": 1' + b"0" * 5000 + b"}", "invalid_json", "ValueError"),
    (b"23", b"[" * 100_000, "invalid_json", ""),
    (
        b"23",
        b'{"event_id": "\\ud800", ' + _message()[1:].split(b",", 1)[1],
        "bad_event_id",
        "Unicode",
    ),
    (b"23", _message(event_id=""), "bad_event_id", "1 to 64"),
    (b"23", _message(event_id="x" * 65), "bad_event_id", "1 to 64"),
    (b"23", _message(type="view"), "unknown_type", "'view'"),
    (b"23", _message(ts=NOW + MAX_FUTURE_S + 1), "future_ts", "301 s ahead"),
    (b"24", _message(), "key_mismatch", "user id 23"),
]


@pytest.mark.parametrize(("key", "value", "reason", "detail"), INVALID)
def test_an_invalid_message_is_refused_with_its_reason(
    key: bytes, value: bytes, reason: str, detail: str
) -> None:
    with pytest.raises(InvalidEvent) as refused:
        decode(key, value, NOW)
    assert refused.value.reason == reason
    assert detail in refused.value.detail


def test_every_reason_has_a_case_and_no_case_an_undeclared_reason() -> None:
    assert {case[2] for case in INVALID} == set(DECODE_REASONS)


def test_an_event_at_the_future_limit_is_accepted() -> None:
    assert decode(b"23", _message(ts=NOW + MAX_FUTURE_S), NOW).ts == NOW + MAX_FUTURE_S


def test_a_non_finite_ts_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="wrong_type: ts must be positive unix seconds"):
        Event(**{**VALID, "ts": float("nan")})
