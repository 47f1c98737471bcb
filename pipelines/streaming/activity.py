"""The streaming user features, defined once for both paths that compute them.

Online, the stream processor applies interaction events to each user's activity state in
Redis (APPLY_SCRIPT) and writes the resulting values to the Feast view
`user_stream_features`. Offline, `offline_features` computes the same values from an
interaction log, one row per user and event time, for point-in-time joins in training.

Values are as of the user's latest event (of any type), counting every event at or
before it:
- user_clicks_1h: clicks with ts in (latest - WINDOW_S, latest];
- user_last_click_category: the category of the newest click (largest ts; between
  clicks of the same ts, the largest `event_id:item_id`), NO_CATEGORY before the first.

Both are functions of the *set* of events seen, not of their order: the latest time is a
maximum, the newest click an argmax, and the clicks in the window a set keyed by
event_id. So a replayed event (a restart before the offsets were committed) or one that
arrives late changes nothing, and the online values equal the offline ones for the same
events whatever order the consumer saw them in.

The state, one ZSET per user ({prefix}:activity:{user}, one key, so one cluster slot):
  "@last"              score = the user's latest event time
  "<event_id>:<item>"  score = ts, each click in the window, and the newest click
Clicks at or before the window's start are dropped, except the newest click.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from recstack_contract.features import NO_CATEGORY

from .. import schema

WINDOW_S = 3600.0
LATEST = "@last"

# KEYS[1] the user's activity ZSET; ARGV[1] WINDOW_S; then per event: ts, "1" for a
# click or "0", the click's member. Returns {clicks in the window, the newest click's
# member or "", the latest event time}. Scores are doubles; '%.17g' passes them back to
# Redis without rounding, so the bounds are the ones offline_features computes.
APPLY_SCRIPT = """
local key = KEYS[1]
local window = tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  redis.call('ZADD', key, 'GT', ARGV[i], '@last')
  if ARGV[i + 1] == '1' then
    redis.call('ZADD', key, 'NX', ARGV[i], ARGV[i + 2])
  end
end
local latest = tonumber(redis.call('ZSCORE', key, '@last'))
local newest = ''
for _, member in ipairs(redis.call('ZREVRANGE', key, 0, 1)) do
  if member ~= '@last' then newest = member break end
end
local start = string.format('%.17g', latest - window)
local newest_score = newest ~= '' and redis.call('ZSCORE', key, newest)
redis.call('ZREMRANGEBYSCORE', key, '-inf', start)
if newest ~= '' then redis.call('ZADD', key, 'NX', newest_score, newest) end
local clicks = redis.call('ZCOUNT', key, '(' .. start, '+inf') - 1
return {clicks, newest, string.format('%.17g', latest)}
"""


def click_member(event_id: str, item_id: int) -> str:
    return f"{event_id}:{item_id}"


def item_of_member(member: str) -> int:
    return int(member.rsplit(":", 1)[1])


def item_categories(data_dir: Path) -> dict[int, int]:
    """Item id to category, from the dataset's item table."""
    items = pd.read_parquet(
        data_dir / schema.ITEMS_FILE, columns=[schema.ITEM_KEY, schema.ITEM_CATEGORY]
    )
    ids, categories = items[schema.ITEM_KEY].tolist(), items[schema.ITEM_CATEGORY].tolist()
    return dict(zip(ids, categories, strict=True))


def _clicks(events: pd.DataFrame) -> pd.DataFrame:
    """The clicks with their ZSET member, sorted by user, time, then member: each user's
    last click at or before a time is their newest one then."""
    clicks = events[events["type"] == "click"]
    members = [
        click_member(e, i) for e, i in zip(clicks["event_id"], clicks["item_id"], strict=True)
    ]
    return clicks.assign(member=members).sort_values(["user_id", "ts", "member"])


def offline_features(events: pd.DataFrame, categories: Mapping[int, int]) -> pd.DataFrame:
    """The features as of each user's every distinct event time.

    `events` has the contract's fields as columns (event_id, user_id, item_id, type, ts);
    duplicates (same event_id) count once. Returns user_id, ts, user_clicks_1h and
    user_last_click_category, sorted by user and time.
    """
    events = events.drop_duplicates("event_id")
    times = events[["user_id", "ts"]].drop_duplicates().sort_values(["user_id", "ts"])
    clicks = _clicks(events)
    per_user = {
        user: (group["ts"].to_numpy(), group["item_id"].to_numpy())
        for user, group in clicks.groupby("user_id", sort=False)
    }
    counts = np.zeros(len(times), dtype=np.int64)
    last_items = np.full(len(times), -1, dtype=np.int64)
    users = times["user_id"].to_numpy()
    at = times["ts"].to_numpy(dtype=np.float64)
    bounds = np.flatnonzero(np.diff(users)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(users)], strict=True):
        user_clicks = per_user.get(users[start])
        if user_clicks is None:
            continue
        click_ts, click_items = user_clicks
        t = at[start:stop]
        upto = np.searchsorted(click_ts, t, side="right")
        counts[start:stop] = upto - np.searchsorted(click_ts, t - WINDOW_S, side="right")
        last_items[start:stop] = np.where(upto > 0, click_items[np.maximum(upto - 1, 0)], -1)
    category = np.array(
        [categories.get(int(i), NO_CATEGORY) if i >= 0 else NO_CATEGORY for i in last_items],
        dtype=np.int64,
    )
    return pd.DataFrame(
        {
            "user_id": users.astype(np.int64),
            "ts": at,
            "user_clicks_1h": counts,
            "user_last_click_category": category,
        }
    )


def latest_features(events: pd.DataFrame, categories: Mapping[int, int]) -> pd.DataFrame:
    """Each user's row as of their latest event: what the online store holds once the
    stream processor has applied `events`."""
    rows = offline_features(events, categories)
    return rows.groupby("user_id", sort=True).tail(1).reset_index(drop=True)


def states(events: pd.DataFrame) -> dict[int, dict[str, float]]:
    """Each user's activity ZSET (member -> score) once `events` are applied: what
    APPLY_SCRIPT leaves, computed at once (the publish step seeds Redis with it from the
    interaction log, so live events continue from the log's state)."""
    events = events.drop_duplicates("event_id")
    latest = events.groupby("user_id")["ts"].max()
    clicks = _clicks(events)
    newest = clicks.groupby("user_id").tail(1)
    start = latest.reindex(clicks["user_id"]).to_numpy() - WINDOW_S
    kept = pd.concat([clicks[clicks["ts"].to_numpy() > start], newest]).drop_duplicates("member")
    out = {int(user): {LATEST: float(ts)} for user, ts in latest.items()}
    for user, member, ts in zip(kept["user_id"], kept["member"], kept["ts"], strict=True):
        out[int(user)][member] = float(ts)
    return out


def events_from_impressions(impressions: pd.DataFrame) -> pd.DataFrame:
    """The interaction log of an impressions table (user_id, item_id, click, timestamp):
    an impression event per row and a click event at the same time per clicked row,
    with event ids derived from the row, so the same table gives the same events."""
    ts = event_seconds(impressions["timestamp"])
    rows = np.arange(len(impressions))
    shown = pd.DataFrame(
        {
            "event_id": [f"i{r}" for r in rows],
            "user_id": impressions["user_id"].to_numpy(),
            "item_id": impressions["item_id"].to_numpy(),
            "type": "impression",
            "ts": ts,
        }
    )
    clicked = shown[impressions["click"].to_numpy() == 1].assign(
        event_id=lambda f: "c" + f["event_id"].str[1:], type="click"
    )
    return pd.concat([shown, clicked], ignore_index=True)


def event_seconds(timestamps: pd.Series) -> np.ndarray:
    """The unix seconds (float, an event's `ts`) of a timestamp column."""
    return timestamps.astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9


def micros(seconds: np.ndarray) -> np.ndarray:
    """Event times as the streaming feature rows are stamped: whole microseconds, the
    tables' precision. Finer times round, and whatever is compared with those stamps
    goes through here too, so a later event never gets an earlier stamp."""
    return np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
