"""Training joins the streaming features to each impression as of strictly before it,
the values the online store held when that impression was served."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.features import stream_features
from pipelines.serving import stream_inputs
from pipelines.train.inputs import as_of_each

# item -> category
CATEGORIES = {10: 3, 11: 4, 12: 5}
NAN = float("nan")


def _impressions(rows: list[tuple[int, int, int, float]]) -> pd.DataFrame:
    users, items, clicks, seconds = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_id": np.array(users, dtype=np.int64),
            "item_id": np.array(items, dtype=np.int64),
            "click": np.array(clicks, dtype=np.int8),
            "timestamp": pd.to_datetime(np.array(seconds), unit="s", utc=True),
        }
    )


def test_each_impression_sees_only_the_events_strictly_before_it() -> None:
    impressions = _impressions(
        [
            (1, 10, 1, 1000.0),  # the user's first event: nothing before it
            (1, 11, 0, 1000.0),  # shown with the click above: must not see that click
            (1, 12, 1, 2000.0),  # as of 1000: one click, category 3
            (1, 10, 0, 5601.0),  # as of 2000: both clicks in the hour, category 5
            (1, 11, 0, 9000.0),  # as of 5601: both clicks older than the hour
            (2, 11, 0, 1500.0),  # another user's first event
        ]
    )
    stream = stream_features(impressions, CATEGORIES)
    # Shuffled: the join must not depend on the order of either table.
    order = [4, 2, 5, 0, 3, 1]
    got = as_of_each(impressions.iloc[order], stream.sample(frac=1.0, random_state=3))
    want = np.array([[NAN, NAN], [NAN, NAN], [1, 3], [2, 5], [0, 5], [NAN, NAN]], dtype=np.float64)[
        order
    ]
    clicks, category = stream_inputs.CLICKS, stream_inputs.CATEGORY
    np.testing.assert_array_equal(got[:, [clicks, category]], want)


def test_missing_rows_read_as_no_clicks_and_no_category() -> None:
    sparse, dense = stream_inputs.model_inputs(np.array([[NAN, NAN], [3, 4]]))
    assert sparse[:, 0].tolist() == [0, 5]  # category + 1; 0 = no click yet
    np.testing.assert_allclose(dense[:, 0], [0.0, np.log1p(3)])


def test_a_time_finer_than_the_rows_stamps_does_not_see_its_own_click() -> None:
    # 300 ns after a whole microsecond: the rows are stamped at microseconds.
    at = 1000.0000003
    impressions = _impressions([(1, 10, 1, at), (1, 11, 0, at), (1, 12, 0, at + 1)])
    got = as_of_each(impressions, stream_features(impressions, CATEGORIES))
    assert np.isnan(got[:2]).all()
    assert got[2, stream_inputs.CLICKS] == 1
