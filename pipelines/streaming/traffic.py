"""Live traffic: impressions and clicks drawn from the generative model behind the
synthetic data (pipelines/data/simulate.py), published as interaction events at a
steady rate. A model learning from the stream finds the same signal as in the log:
clicks follow each user's latent taste, each item's popularity and the intent of the
user's current session, which changes after SESSION_IMPRESSIONS impressions on average.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from pipelines.data.simulate import SESSION_IMPRESSIONS, TARGET_CTR, World, bias_for_rate

from .events import EventProducer

# Impressions drawn to solve the click bias for the log's click-through rate.
CALIBRATION_IMPRESSIONS = 20_000
# Interactions drawn at once: vectorised draws are cheap per event.
DRAW = 1024
# Events are sent in ticks of this length, each its share of the rate.
TICK_S = 0.05
# How long the simulator's producer holds events to batch them, as a fleet's event
# collector would: the broker stores and serves each batch as one object, and the local
# one's cost per fetch grows with the objects it holds (README, Limits). A click still
# reaches the served answer well within the freshness objective.
LINGER_MS = 100
# How `recstack simulate` starts the line it prints once the model is built and events
# begin to go out: benchmarks wait for it before they measure.
SENDING = "sending "


@dataclass(frozen=True)
class Interaction:
    user_id: int
    item_id: int
    clicked: bool


class Traffic:
    """Endless impressions of random users, each clicked with the model's probability."""

    def __init__(self, world: World, rng: np.random.Generator) -> None:
        self._world, self._rng = world.for_live_traffic(), rng
        self._intent = self._world.draw_intents(rng, np.arange(len(world.user_latent)))
        self._bias = bias_for_rate(self._logits(CALIBRATION_IMPRESSIONS)[2], TARGET_CTR)

    def draw(self, n: int) -> list[Interaction]:
        user, item, logit = self._logits(n)
        logit += self._bias
        clicked = self._rng.random(n) < 1 / (1 + np.exp(-logit))
        order = self._rng.permutation(n)  # users were drawn sorted; send them mixed
        return [Interaction(int(user[i]), int(item[i]), bool(clicked[i])) for i in order]

    def _logits(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n impressions of random users (sorted by user), and their click logits."""
        user = np.sort(self._rng.integers(len(self._world.user_latent), size=n))
        # Some of the users drawn start a new session, with an intent of its own.
        drawn = np.unique(user)
        renewing = drawn[self._rng.random(len(drawn)) < 1 / SESSION_IMPRESSIONS]
        self._intent[renewing] = self._world.draw_intents(self._rng, renewing)
        intent = self._intent[user]
        item = self._world.sample_items(self._rng, user, intent)
        return user, item, self._world.click_logit(user, item, intent)


@dataclass
class Sent:
    impressions: int = 0
    clicks: int = 0
    elapsed_s: float = 0.0

    @property
    def events(self) -> int:
        return self.impressions + self.clicks


def send(
    traffic: Traffic,
    producer: EventProducer,
    rate: float,
    duration_s: float,
    report: Callable[[Sent], None] = lambda _: None,
) -> Sent:
    """Send about `rate` events a second for `duration_s` (an impression, then a click
    when the user clicks, both counting), reporting after each tick; waits until the
    broker acknowledged every event."""
    sent = Sent()
    start = time.monotonic()
    pending: Iterator[Interaction] = iter(())
    for tick in range(1, max(1, round(duration_s / TICK_S)) + 1):
        due = round(rate * tick * TICK_S)
        while sent.events < due:
            interaction = next(pending, None)
            if interaction is None:
                pending = iter(traffic.draw(max(DRAW, due - sent.events)))
                continue
            now = time.time()
            producer.send(interaction.user_id, interaction.item_id, "impression", ts=now)
            sent.impressions += 1
            if interaction.clicked:
                producer.send(interaction.user_id, interaction.item_id, "click", ts=now)
                sent.clicks += 1
        sent.elapsed_s = time.monotonic() - start
        report(sent)
        time.sleep(max(0.0, start + tick * TICK_S - time.monotonic()))
    producer.flush()
    sent.elapsed_s = time.monotonic() - start
    return sent
