"""`python -m benchmarks.quality`: what the streaming features are worth to each model.

Both models are trained on the environment's data (the pipelines' data directory) with
the streaming features as the train step gives them and with them blanked (every
impression read as the user's first event: no clicks, no category), over several
training seeds, since one seed to the next moves the figures by about as much as the
features do. Written to benchmarks/results/quality.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from pipelines.config import Paths, PipelineConfig
from pipelines.data.validate import load_raw
from pipelines.features import load_features
from pipelines.serving import stream_inputs
from pipelines.train.dlrm import fit_dlrm
from pipelines.train.evaluate import evaluate
from pipelines.train.inputs import Interactions, TrainingData, prepare
from pipelines.train.two_tower import embed, fit_two_tower

RESULTS = Path(__file__).resolve().parent / "results"
# The models' figures, and the popularity baseline's beside them (the same for both
# variants: it reads no features).
MEASURES = ("retrieval_recall_at_k", "ranker_auc", "popularity_recall_at_k", "popularity_auc")


def blanked(data: TrainingData) -> TrainingData:
    """The same data with every streaming input as before a user's first event."""

    def without(rows: Interactions) -> Interactions:
        sparse, dense = stream_inputs.model_inputs(
            np.full((len(rows.user), len(stream_inputs.FEATURES)), np.nan)
        )
        return dataclasses.replace(rows, stream_sparse=sparse, stream_dense=dense)

    return dataclasses.replace(data, train=without(data.train), holdout=without(data.holdout))


def measure(data: TrainingData, cfg: PipelineConfig) -> dict[str, float]:
    towers = fit_two_tower(data, cfg.train)
    ranker = fit_dlrm(data, cfg.train)
    item_embeddings = embed(towers.item, data.item_sparse)
    metrics = evaluate(data, towers.user, item_embeddings, ranker, cfg.train.eval_k)
    return {name: round(float(metrics[name]), 4) for name in MEASURES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Paths().data_dir)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    args = parser.parse_args()
    torch.set_num_threads(2)  # as the train step: figures independent of the core count
    cfg = PipelineConfig()
    raw = load_raw(args.data_dir)
    users, items, stream = load_features(args.data_dir)
    data = prepare(users, items, stream, raw.impressions, cfg.train.holdout_fraction)
    variants = {"with_streaming_features": data, "streaming_features_blanked": blanked(data)}
    runs = []
    for seed in args.seeds:
        seeded = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed))
        for name, variant in variants.items():
            print(f"seed {seed}, {name.replace('_', ' ')}…", flush=True)
            runs.append({"seed": seed, "variant": name, **measure(variant, seeded)})
    mean = {
        name: {
            m: round(float(np.mean([r[m] for r in runs if r["variant"] == name])), 4)
            for m in MEASURES
        }
        for name in variants
    }
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {
            "users": len(data.user_ids),
            "items": len(data.item_ids),
            "impressions": len(raw.impressions),
            "holdout_clicks": len(data.holdout.clicked().user),
        },
        "eval_k": cfg.train.eval_k,
        "runs": runs,
        "mean": mean,
        "gain_from_streaming_features": {
            m: round(mean["with_streaming_features"][m] - mean["streaming_features_blanked"][m], 4)
            for m in MEASURES
        },
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "quality.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["mean"], indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
