"""`python -m pipelines <step> --config pipeline.yml`: run one pipeline step.

Steps, in order: data, features, feature-store, train, hps, export, publish, batch.
The last line printed is the step's JSON result ({"step", "changed", "details"}); a
known failure (bad config or data, a model below its quality floor) exits with status 2
and a one-paragraph explanation on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from .artifacts import ArtifactsError
from .config import ConfigError, PipelineConfig, load_config
from .data.validate import DataError
from .feature_store import FeatureStoreError
from .serving.hugectr_files import ModelFileError
from .serving.resilience import RedisUnavailable
from .steps import StepResult
from .train.errors import ExportError, QualityGateError


def _data(cfg: PipelineConfig, _: argparse.Namespace) -> StepResult:
    from .data.synthetic import generate
    from .data.validate import validate_raw

    result = generate(cfg)
    validate_raw(cfg.paths.data_dir)
    return result


def _features(cfg: PipelineConfig, _: argparse.Namespace) -> StepResult:
    from .features import build

    return build(cfg)


def _feature_store(cfg: PipelineConfig, args: argparse.Namespace) -> StepResult:
    from .feature_store import sync

    if args.repo is None:
        raise ConfigError("the feature-store step needs --repo (the Feast repository)")
    return sync(cfg, args.repo)


def _train(cfg: PipelineConfig, _: argparse.Namespace) -> StepResult:
    from .train.run import train

    return train(cfg)


def _hps(cfg: PipelineConfig, _: argparse.Namespace) -> StepResult:
    from .hugectr.volatile_tier import load_volatile_tier

    return load_volatile_tier(cfg)


def _export(cfg: PipelineConfig, _: argparse.Namespace) -> StepResult:
    from .export.repository import export

    return export(cfg)


def _publish(cfg: PipelineConfig, _: argparse.Namespace) -> StepResult:
    from .publish import publish

    return publish(cfg)


def _batch(cfg: PipelineConfig, _: argparse.Namespace) -> StepResult:
    from .batch import batch

    return batch(cfg)


STEPS: dict[str, Callable[[PipelineConfig, argparse.Namespace], StepResult]] = {
    "data": _data,
    "features": _features,
    "feature-store": _feature_store,
    "train": _train,
    "hps": _hps,
    "export": _export,
    "publish": _publish,
    "batch": _batch,
}


# Failures an operator fixes by changing config, data or the environment: explained in one
# paragraph, without a traceback.
KNOWN_FAILURES = (
    ConfigError,
    DataError,
    QualityGateError,
    ExportError,
    ArtifactsError,
    FeatureStoreError,
    ModelFileError,
    RedisUnavailable,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    parser.add_argument("step", choices=list(STEPS))
    parser.add_argument("--config", type=Path, help="pipeline YAML (defaults if omitted)")
    parser.add_argument("--repo", type=Path, help="Feast repository (feature-store step)")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
        result = STEPS[args.step](cfg, args)
    except KNOWN_FAILURES as exc:
        print(f"pipelines {args.step}: {exc}", file=sys.stderr)
        return 2
    print(result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
