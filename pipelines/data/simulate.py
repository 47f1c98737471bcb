"""A small generative model of an Ali-CCP-like click log.

Each category has a centroid in a latent space; items sit near their category's centroid
and users near the mix of their user group's preferred categories, so the categorical
features carry signal a model can learn. Item popularity is Zipf over a seeded
permutation of item ids. Impressions mix a popularity-driven and a preference-driven
candidate source (like a log produced by an earlier recommender), and clicks follow
sigmoid(affinity + popularity + intent + bias) with the bias solved for a realistic CTR.

Impressions come in sessions: a few within half an hour, each session with an intent,
one category (half the time one of the user's taste, else any), whose items are shown
and clicked more readily then.
That is the short-term signal the streaming features (the clicks of the last hour, the
category of the last click) carry beyond a user's long-term taste.

Everything derives from one seed through independent streams, so a given DataConfig
always produces the same tables.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from pipelines.config import DataConfig
from pipelines.data.validate import TIMESTAMP_TYPE

LATENT_DIM = 16
# Cardinalities of the user/item fields the config does not size (close to Ali-CCP's).
N_AGES = 7
N_GEOGRAPHIES = 32
N_PROFILES = 12
N_INTENTIONS = 8
CATEGORIES_PER_GROUP = 3
# Distance of items from their category centroid and of users from their group's taste:
# large enough that ids matter beyond categories, small enough that categories predict.
ITEM_SPREAD = 0.5
USER_SPREAD = 0.6
# Share of the home category among a shop's (or brand's) items.
HOME_LOYALTY = 0.8
# Impression sources: this share comes from popularity, SESSION_SHARE from the
# session's intent, the rest from preference.
POPULARITY_SHARE = 0.2
PREFERENCE_SHARPNESS = 6.0
# Preference-driven sources still favour popular items, damped by this power.
PREFERENCE_POPULARITY = 0.25
# Click model weights on affinity (cosine, in [-1, 1]) and standardised log-popularity.
CLICK_AFFINITY = 4.0
CLICK_POPULARITY = 0.2
TARGET_CTR = 0.15
# Sessions: impressions per session on average, how long one lasts, and the click
# logit's lift for an item of the session's intent category.
SESSION_IMPRESSIONS = 6
SESSION_US = 30 * 60 * 1_000_000
CLICK_INTENT = 2.0
# Share of impressions drawn from the session's intent (by popularity within it), and
# share of sessions whose intent is any category rather than one of the user's taste.
SESSION_SHARE = 0.3
INTENT_OUTSIDE_TASTE = 0.5
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_US = 30 * 24 * 3600 * 1_000_000
# Cells of the users x items probability matrix sampled at once: bounds memory
# (about 32 MiB per array) whatever the data size.
MATRIX_CELLS = 1 << 22
# Largest TasteTable kept for live traffic (the default 4,000 x 2,000 world needs 64 MB).
TASTE_TABLE_BYTES = 512 << 20


@dataclass(frozen=True)
class World:
    """The users and items of a DataConfig, with the latent state their behaviour follows:
    what the offline log and live traffic (pipelines/streaming/traffic.py) both draw from."""

    users: pa.Table
    items: pa.Table
    user_latent: np.ndarray
    item_latent: np.ndarray
    popularity: np.ndarray
    # Live traffic's precomputed taste distributions (for_live_traffic).
    tastes: TasteTable | None = dataclasses.field(default=None, repr=False, compare=False)

    def for_live_traffic(self) -> World:
        """This world with its TasteTable, when one fits in TASTE_TABLE_BYTES."""
        return dataclasses.replace(self, tastes=TasteTable(self)) if TasteTable.fits(self) else self

    def sample_items(
        self, rng: np.random.Generator, user: np.ndarray, intent: np.ndarray
    ) -> np.ndarray:
        """An impressed item per entry of `user` (sorted) in a session of intent category
        `intent`: from popularity, the user's taste or the intent (what the user browses
        for), like the log of an earlier recommender."""
        item = rng.choice(len(self.popularity), size=len(user), p=self.popularity)
        source = rng.random(len(user))
        by_preference = np.flatnonzero(source >= POPULARITY_SHARE + SESSION_SHARE)
        item[by_preference] = self._from_taste(rng, user[by_preference])
        by_intent = np.flatnonzero(
            (source >= POPULARITY_SHARE) & (source < POPULARITY_SHARE + SESSION_SHARE)
        )
        item[by_intent] = self._popular_in(rng, intent[by_intent])
        return item

    def draw_intents(self, rng: np.random.Generator, user: np.ndarray) -> np.ndarray:
        """A session intent per entry of `user` (sorted): the category of an item drawn
        from that user's taste, or, for INTENT_OUTSIDE_TASTE of them, any category (a
        need of the moment)."""
        intent = self.item_category[self._from_taste(rng, user)]
        anything = rng.random(len(user)) < INTENT_OUTSIDE_TASTE
        intent[anything] = rng.integers(self.n_categories, size=anything.sum())
        return intent

    def _from_taste(self, rng: np.random.Generator, user: np.ndarray) -> np.ndarray:
        if self.tastes is not None:
            return self.tastes.draw(rng, user)
        return _preferred(rng, user, self.user_latent, self.item_latent, self.popularity)

    @functools.cached_property
    def _by_category(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Items sorted by category, their cumulative popularity, and each category's
        [first, end) range in that order."""
        order = np.argsort(self.item_category, kind="stable")
        codes = np.arange(self.n_categories)
        sorted_categories = self.item_category[order]
        bounds = np.stack(
            [
                np.searchsorted(sorted_categories, codes),
                np.searchsorted(sorted_categories, codes, "right"),
            ]
        )
        return order, np.cumsum(self.popularity[order]), bounds

    def _popular_in(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        """An item per entry of `category`, drawn from it by popularity (every category
        has an item: _items makes sure)."""
        order, cumulative, (first, end) = self._by_category
        low = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)[category]
        high = cumulative[end - 1][category]
        at = np.searchsorted(cumulative, low + rng.random(len(category)) * (high - low), "right")
        return order[np.clip(at, first[category], end[category] - 1)]

    @functools.cached_property
    def item_category(self) -> np.ndarray:
        return self.items["item_category"].to_numpy()

    @property
    def n_categories(self) -> int:
        # _items gives every category an item, so the codes are 0 .. max.
        return int(self.item_category.max()) + 1

    def click_logit(self, user: np.ndarray, item: np.ndarray, intent: np.ndarray) -> np.ndarray:
        """The click model's logit before its rate-setting bias (bias_for_rate), for
        impressions in sessions of intent category `intent`."""
        affinity = np.einsum("ij,ij->i", self.user_latent[user], self.item_latent[item])
        log_pop = np.log(self.popularity)
        standard_pop = (log_pop[item] - log_pop.mean()) / log_pop.std()
        in_intent = self.item_category[item] == intent
        return (
            CLICK_AFFINITY * affinity + CLICK_POPULARITY * standard_pop + CLICK_INTENT * in_intent
        )


def build_world(data: DataConfig) -> World:
    item_rng, user_rng = (np.random.default_rng(seq) for seq in _streams(data.seed)[:2])
    centroids = _unit(item_rng.normal(size=(data.n_categories, LATENT_DIM)))
    items, item_latent, popularity = _items(item_rng, data, centroids)
    users, user_latent = _users(user_rng, data, centroids)
    return World(users, items, user_latent, item_latent, popularity)


def simulate(data: DataConfig) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Users, items and impressions tables for `data`, in the raw contract's dtypes."""
    world = build_world(data)
    impressions = _impressions(np.random.default_rng(_streams(data.seed)[2]), data, world)
    return world.users, world.items, impressions


def _streams(seed: int) -> list[np.random.SeedSequence]:
    """Independent random streams: items, users, the offline log."""
    return np.random.SeedSequence(seed).spawn(3)


def _items(
    rng: np.random.Generator, data: DataConfig, centroids: np.ndarray
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    n = data.n_items
    # Every category gets at least one item, the rest are spread uniformly.
    category = rng.permutation(
        np.concatenate(
            [
                np.arange(data.n_categories),
                rng.integers(data.n_categories, size=n - data.n_categories),
            ]
        )
    )
    latent = _unit(centroids[category] + ITEM_SPREAD * _noise(rng, n))
    rank = rng.permutation(n)
    weight = (rank + 1.0) ** -data.popularity_exponent
    popularity = weight / weight.sum()
    table = pa.table(
        {
            "item_id": np.arange(n, dtype=np.int64),
            "item_category": category.astype(np.int64),
            "item_shop": _home_member(rng, category, data.n_categories, data.n_shops),
            "item_brand": _home_member(rng, category, data.n_categories, data.n_brands),
            "item_intention": _nearest_direction(rng, latent, N_INTENTIONS),
        }
    )
    return table, latent, popularity


def _users(
    rng: np.random.Generator, data: DataConfig, centroids: np.ndarray
) -> tuple[pa.Table, np.ndarray]:
    n = data.n_users
    n_groups = max(2, data.n_categories // 2)
    liked = np.stack(
        [
            rng.choice(
                data.n_categories, size=min(CATEGORIES_PER_GROUP, data.n_categories), replace=False
            )
            for _ in range(n_groups)
        ]
    )
    taste = _unit(centroids[liked].sum(axis=1))
    group = rng.integers(n_groups, size=n)
    latent = _unit(taste[group] + USER_SPREAD * _noise(rng, n))
    # Demographics lean by group (each group has its own gender mix and typical age),
    # so they carry a little of the taste signal, as they do in real logs.
    gender_one_share = rng.beta(2.0, 2.0, size=n_groups)
    typical_age = rng.integers(N_AGES, size=n_groups)
    age = np.clip(typical_age[group] + rng.integers(-1, 2, size=n), 0, N_AGES - 1)
    table = pa.table(
        {
            "user_id": np.arange(n, dtype=np.int64),
            "user_gender": (rng.random(n) < gender_one_share[group]).astype(np.int64),
            "user_age": age.astype(np.int64),
            "user_geography": rng.integers(N_GEOGRAPHIES, size=n, dtype=np.int64),
            "user_group": group.astype(np.int64),
            "user_profile": _nearest_direction(rng, latent, N_PROFILES),
        }
    )
    return table, latent


def _impressions(rng: np.random.Generator, data: DataConfig, world: World) -> pa.Table:
    n_users = len(world.user_latent)
    # Negative binomial counts: a few heavy users and many light ones, mean as configured.
    extra = data.impressions_per_user - 1
    counts = 1 + rng.negative_binomial(2, 2 / (2 + extra), size=n_users)
    user = np.repeat(np.arange(n_users), counts)  # sorted, as sample_items() needs
    # Each user's impressions fall into their sessions at random; a session starts
    # anywhere in the span and holds its impressions within SESSION_US.
    sessions = np.maximum(1, np.round(counts / SESSION_IMPRESSIONS)).astype(np.int64)
    session_user = np.repeat(np.arange(n_users), sessions)
    first_session = np.cumsum(sessions) - sessions
    session = first_session[user] + rng.integers(sessions[user])
    intent = world.draw_intents(rng, session_user)
    item = world.sample_items(rng, user, intent[session])
    logit = world.click_logit(user, item, intent[session])
    logit += bias_for_rate(logit, TARGET_CTR)
    click = rng.random(len(user)) < 1 / (1 + np.exp(-logit))

    session_start = rng.integers(SPAN_US - SESSION_US, size=len(session_user))
    offset_us = session_start[session] + rng.integers(SESSION_US, size=len(user))
    order = np.argsort(offset_us, kind="stable")
    start_us = int(START.timestamp()) * 1_000_000
    return pa.table(
        {
            "user_id": user[order].astype(np.int64),
            "item_id": item[order].astype(np.int64),
            "click": click[order].astype(np.int8),
            "timestamp": pa.array(start_us + offset_us[order], type=TIMESTAMP_TYPE),
        }
    )


def _preferred(
    rng: np.random.Generator,
    user: np.ndarray,
    user_latent: np.ndarray,
    item_latent: np.ndarray,
    popularity: np.ndarray,
) -> np.ndarray:
    """One item per entry of `user` (sorted), drawn from that user's taste distribution.

    Only the users present get a row of the users x items matrix: live traffic asks for
    a few of many users at a time."""
    chosen = np.empty(len(user), dtype=np.int64)
    n_items = len(item_latent)
    present = np.unique(user)
    block = _rows_per_block(n_items)
    for start in range(0, len(present), block):
        rows = present[start : start + block]
        cdf = _taste_cdf(user_latent[rows], item_latent, popularity)
        # Sorted users: the block's entries are one contiguous range.
        low, high = np.searchsorted(user, [rows[0], rows[-1] + 1])
        local = np.searchsorted(rows, user[low:high])
        chosen[low:high] = _draw_rows(rng, _stacked(cdf), local, n_items)
    return chosen


def _taste_cdf(
    user_latent: np.ndarray, item_latent: np.ndarray, popularity: np.ndarray
) -> np.ndarray:
    """Each user's cumulative taste distribution over the items, one row per user."""
    logits = PREFERENCE_SHARPNESS * user_latent @ item_latent.T
    logits += PREFERENCE_POPULARITY * np.log(popularity)
    cdf = np.cumsum(np.exp(logits - logits.max(axis=1, keepdims=True)), axis=1)
    cdf /= cdf[:, -1:]
    return cdf


def _stacked(cdf: np.ndarray, first_row: int = 0) -> np.ndarray:
    """Row r of the CDFs shifted by first_row + r: one increasing array, so a single
    searchsorted samples entries of any rows at once (_draw_rows)."""
    return (cdf + np.arange(first_row, first_row + len(cdf))[:, None]).ravel()


def _draw_rows(
    rng: np.random.Generator, stacked: np.ndarray, row: np.ndarray, n_items: int
) -> np.ndarray:
    """An item per entry of `row`, drawn from that row of the _stacked CDFs."""
    hit = np.searchsorted(stacked, row + rng.random(len(row)), side="right")
    return np.minimum(hit - row * n_items, n_items - 1)


def _rows_per_block(n_items: int) -> int:
    """Users whose taste rows are computed at once, within MATRIX_CELLS."""
    return max(1, MATRIX_CELLS // n_items)


class TasteTable:
    """Every user's taste distribution, computed once: live traffic draws for the same
    users again and again, and recomputing their rows at every draw was most of the
    simulator's CPU. Bounded by TASTE_TABLE_BYTES; a larger world computes per draw."""

    def __init__(self, world: World) -> None:
        n_users, n_items = len(world.user_latent), len(world.item_latent)
        self._n_items = n_items
        # All users' rows _stacked as one array, filled a block at a time.
        self._cdfs = np.empty(n_users * n_items)
        block = _rows_per_block(n_items)
        for start in range(0, n_users, block):
            rows = world.user_latent[start : start + block]
            cdf = _taste_cdf(rows, world.item_latent, world.popularity)
            self._cdfs[start * n_items : (start + len(rows)) * n_items] = _stacked(cdf, start)

    @staticmethod
    def fits(world: World) -> bool:
        return len(world.user_latent) * len(world.item_latent) * 8 <= TASTE_TABLE_BYTES

    def draw(self, rng: np.random.Generator, user: np.ndarray) -> np.ndarray:
        """One item per entry of `user`, drawn from that user's taste distribution."""
        return _draw_rows(rng, self._cdfs, user, self._n_items)


def bias_for_rate(logit: np.ndarray, rate: float) -> float:
    """The constant that, added to `logit`, makes the mean click probability `rate`."""
    low, high = -20.0, 20.0
    for _ in range(60):
        mid = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(logit + mid)))) < rate:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _home_member(
    rng: np.random.Generator, category: np.ndarray, n_categories: int, n_members: int
) -> np.ndarray:
    """Shop or brand per item: mostly one whose home category is the item's category."""
    home = rng.integers(n_categories, size=n_members)
    members = np.argsort(home, kind="stable")
    first = np.searchsorted(home[members], np.arange(n_categories))
    size = np.bincount(home, minlength=n_categories)
    pick = members[
        np.minimum(
            first[category] + (rng.random(len(category)) * size[category]).astype(np.int64),
            n_members - 1,
        )
    ]
    anywhere = rng.integers(n_members, size=len(category))
    loyal = (rng.random(len(category)) < HOME_LOYALTY) & (size[category] > 0)
    return np.where(loyal, pick, anywhere).astype(np.int64)


def _nearest_direction(rng: np.random.Generator, latent: np.ndarray, n: int) -> np.ndarray:
    """A code that is a coarse summary of the latent vector: its closest of n directions."""
    directions = rng.normal(size=(n, latent.shape[1]))
    return np.argmax(latent @ directions.T, axis=1).astype(np.int64)


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    # Scaled so the noise vector has unit expected norm whatever LATENT_DIM is.
    return rng.normal(size=(n, LATENT_DIM)) / np.sqrt(LATENT_DIM)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
