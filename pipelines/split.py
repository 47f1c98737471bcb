"""The global temporal train/holdout split shared by features, training and evaluation.

One cut-off time for everybody (not per user) mirrors production: a model trained up to
a moment is judged on what happened after it. Features and training both take their
train rows from here, so holdout clicks never leak into popularity, activity or weights.
"""

from __future__ import annotations

import pandas as pd

from pipelines.data.validate import DataError


def temporal_split(
    impressions: pd.DataFrame, holdout_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): holdout is every impression at or after the cut-off quantile."""
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    cutoff = holdout_cutoff(impressions["timestamp"], holdout_fraction)
    is_holdout = (impressions["timestamp"] >= cutoff).to_numpy()
    train, holdout = impressions[~is_holdout], impressions[is_holdout]
    if train.empty:
        raise DataError(
            f"impressions: every timestamp is at or after the holdout cut-off {cutoff}, "
            "so nothing is left to train on; the timestamps need to span a period"
        )
    return train, holdout


def holdout_cutoff(timestamps: pd.Series, holdout_fraction: float) -> pd.Timestamp:
    """The first holdout time: the (1 - holdout_fraction) quantile of `timestamps`."""
    # "lower" picks an observed timestamp, so the cut-off is a real event time and the
    # holdout always holds at least that event.
    return timestamps.quantile(1.0 - holdout_fraction, interpolation="lower")
