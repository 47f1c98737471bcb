"""Pipeline configuration: one YAML file, parsed once into typed, validated dataclasses.

Deployments render this file from Ansible group_vars (`pipelines_config`); run on its
own, `python -m pipelines <step> --config pipeline.yml` reads the same file. Every field
has a default, so a config only needs what differs. The shared builder (recstack_config)
turns the file's mapping, whose keys are the field names, into these dataclasses; each
`validate()` says which values are allowed. Unknown keys, wrong types and out-of-range
values fail early with the dotted field name and what to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from recstack_config import ConfigError, DataclassBuilder, at_least, between, one_of
from recstack_contract.redis import KEY_PREFIX

from .hugectr.settings import HpsSettings
from .serving.spec import HPS_SCORING, SCORING_MODES

# The file's keys are the field names.
_BUILDER = DataclassBuilder()


@dataclass(frozen=True)
class Paths:
    data_dir: Path = Path("/var/lib/recstack/data")
    artifacts_dir: Path = Path("/var/lib/recstack/artifacts")
    model_repository: Path = Path("/var/lib/recstack/model_repository")


@dataclass(frozen=True)
class DataConfig:
    # "synthetic": generate Ali-CCP-shaped data into paths.data_dir.
    # "parquet": use users/items/impressions parquet files already in paths.data_dir.
    source: str = "synthetic"
    seed: int = 7
    n_users: int = 4000
    n_items: int = 2000
    n_categories: int = 40
    n_shops: int = 300
    n_brands: int = 200
    impressions_per_user: int = 60
    # Zipf exponent of item popularity (Ali-CCP's long tail is close to 1).
    popularity_exponent: float = 1.0

    def validate(self) -> None:
        one_of("data.source", self.source, ("synthetic", "parquet"))
        for name in ("n_users", "n_items", "n_categories", "n_shops", "n_brands"):
            at_least(f"data.{name}", getattr(self, name), 2)
        at_least("data.impressions_per_user", self.impressions_per_user, 5)
        if self.n_categories > self.n_items:
            raise ConfigError("data.n_categories must not exceed data.n_items")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 7
    embedding_dim: int = 32
    # Both models memorise user/item ids after a few passes, so more epochs cost time
    # and quality: retrieval's holdout metrics fall from the third epoch on, the
    # ranker's from the second (holdout AUC 0.717 after one, 0.700 after two: the mean
    # of two seeds on the default data).
    retrieval_epochs: int = 2
    ranker_epochs: int = 1
    batch_size: int = 512
    learning_rate: float = 0.005
    # Share of impressions held out for evaluation: the most recent ones, after one
    # global cut-off time (pipelines/split.py).
    holdout_fraction: float = 0.2
    eval_k: int = 100
    # A model below a floor is not published: the train step fails, latest.json stays.
    # Defaults sit between the popularity baseline and the trained models on the default
    # synthetic data (recall@100 ~0.43 vs ~0.58, AUC ~0.63 vs ~0.70).
    min_retrieval_recall_at_k: float = 0.5
    min_ranker_auc: float = 0.62

    def validate(self) -> None:
        at_least("train.embedding_dim", self.embedding_dim, 4)
        at_least("train.retrieval_epochs", self.retrieval_epochs, 1)
        at_least("train.ranker_epochs", self.ranker_epochs, 1)
        at_least("train.batch_size", self.batch_size, 8)
        at_least("train.eval_k", self.eval_k, 1)
        between("train.holdout_fraction", self.holdout_fraction, 0.05, 0.5)
        between("train.min_retrieval_recall_at_k", self.min_retrieval_recall_at_k, 0.0, 1.0)
        between("train.min_ranker_auc", self.min_ranker_auc, 0.0, 1.0)


@dataclass(frozen=True)
class OnlineTrainingConfig:
    """The online trainer (pipelines/hugectr/online_training.py): SGD on the embedding
    rows that interaction events touch, published to HPS's tiers through Kafka."""

    # A step's size along each sample's gradient: five clicks on a pair lift its
    # probability by a few hundredths on the default data, without one click turning a
    # row over (the rows' values are mostly within ±0.5).
    learning_rate: float = 0.05
    # Rows the trainer keeps as it changed them (about 250 bytes each with 32 floats):
    # a row it changed comes from memory while its update travels to Redis.
    rows_in_memory: int = 1_000_000

    def validate(self) -> None:
        between("online_training.learning_rate", self.learning_rate, 0.0, 10.0)
        at_least("online_training.rows_in_memory", self.rows_in_memory, 0)


@dataclass(frozen=True)
class ServingConfig:
    # Where Redis is, and its password, come from the process environment
    # (recstack_contract/redis.py), as for every recstack client, never from this file.
    # Prefix of every key the pipelines and the serving path own in Redis.
    key_prefix: str = KEY_PREFIX
    # Candidates the retrieval stage returns (FAISS top-N) before filtering.
    retrieval_candidates: int = 200
    top_k: int = 20
    # Business rule of the ordering stage: at most this many items per category.
    max_per_category: int = 3
    # Items appended to the blocklist at publish time (operators add more at run time).
    blocklist: tuple[int, ...] = ()
    # How the scoring stage gets the ranker's embeddings: "hps" (from HPS's tiers, Redis
    # then the host's RocksDB, through an in-process cache; the dense part in
    # onnxruntime) or "onnx" (the whole ranker with its table in one ONNX model).
    scoring: str = HPS_SCORING
    # Model instances per stage inside Triton.
    instances_per_stage: int = 2
    # The batch step recomputes every user's top-K when its inputs change or when the
    # stored results are older than this, whichever comes first.
    batch_max_age_hours: float = 24.0
    # Python-backend execution environment on the Triton hosts (roles/triton creates it).
    triton_python_env: str = "/opt/recstack/triton/pyenv"

    def validate(self) -> None:
        one_of("serving.scoring", self.scoring, SCORING_MODES)
        at_least("serving.top_k", self.top_k, 1)
        at_least("serving.max_per_category", self.max_per_category, 1)
        at_least("serving.instances_per_stage", self.instances_per_stage, 1)
        between("serving.batch_max_age_hours", self.batch_max_age_hours, 0.01, 24.0 * 365)
        if self.retrieval_candidates < 2 * self.top_k:
            raise ConfigError(
                "serving.retrieval_candidates must be at least twice serving.top_k "
                f"(got {self.retrieval_candidates} < 2 x {self.top_k}): filtering drops "
                "seen and blocked items, so retrieval must over-fetch"
            )
        if not self.key_prefix or ":" in self.key_prefix:
            raise ConfigError("serving.key_prefix must be a non-empty string without ':'")


@dataclass(frozen=True)
class PipelineConfig:
    paths: Paths = field(default_factory=Paths)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    # How HPS serves the ranker (pipelines/hugectr/settings.py).
    hps: HpsSettings = field(default_factory=HpsSettings)
    online_training: OnlineTrainingConfig = field(default_factory=OnlineTrainingConfig)

    def validate(self) -> PipelineConfig:
        self.data.validate()
        self.train.validate()
        self.serving.validate()
        self.hps.validate()
        self.online_training.validate()
        if self.serving.retrieval_candidates > self.data.n_items:
            raise ConfigError(
                "serving.retrieval_candidates must not exceed data.n_items "
                f"({self.serving.retrieval_candidates} > {self.data.n_items})"
            )
        return self


def load_config(path: Path | str | None) -> PipelineConfig:
    """Read and validate a pipeline config file; None gives the defaults."""
    if path is None:
        return PipelineConfig().validate()
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"pipeline config {path} does not exist") from exc
    return from_mapping(raw).validate()


def from_mapping(raw: object) -> PipelineConfig:
    """The config from a mapping read out of YAML, not yet validated."""
    return _BUILDER.build(PipelineConfig, raw)
