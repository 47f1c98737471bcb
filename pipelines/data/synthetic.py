"""The `data` step: synthetic Ali-CCP-shaped raw tables in `paths.data_dir`.

The step is idempotent: a stamp beside the tables records the generator-relevant config,
and when it matches and the tables exist nothing is rewritten, so downstream
fingerprints (features, model version) stay put and Ansible reports `ok`.
"""

from __future__ import annotations

import dataclasses

from pipelines import schema
from pipelines.config import DataConfig, PipelineConfig
from pipelines.data.files import read_json, write_json, write_parquet
from pipelines.data.simulate import simulate
from pipelines.steps import StepResult

STEP = "data"
STAMP_FILE = "_synthetic.json"
# Bump when simulate() changes what it draws, so existing tables are regenerated.
GENERATOR_VERSION = 2


def generate(cfg: PipelineConfig) -> StepResult:
    """Write users, items and impressions parquet files unless they are already current."""
    data_dir = cfg.paths.data_dir
    if cfg.data.source == "parquet":
        # The user owns the tables; the validator, run by every later step, checks them.
        return StepResult(STEP, False, {"data_dir": data_dir, "reason": "data.source is parquet"})
    stamp = _stamp(cfg.data)
    stamp_path = data_dir / STAMP_FILE
    outputs = [
        data_dir / name for name in (schema.USERS_FILE, schema.ITEMS_FILE, schema.IMPRESSIONS_FILE)
    ]
    if read_json(stamp_path) == stamp and all(path.is_file() for path in outputs):
        return StepResult(STEP, False, {"data_dir": data_dir})

    data_dir.mkdir(parents=True, exist_ok=True)
    # Drop the stamp first: if writing stops half-way, no stamp vouches for mixed tables.
    stamp_path.unlink(missing_ok=True)
    tables = simulate(cfg.data)
    for table, path in zip(tables, outputs, strict=True):
        write_parquet(table, path)
    write_json(stamp, stamp_path)
    impressions = tables[2]
    return StepResult(
        STEP,
        True,
        {
            "data_dir": data_dir,
            "users": tables[0].num_rows,
            "items": tables[1].num_rows,
            "impressions": impressions.num_rows,
            "ctr": round(float(impressions["click"].to_numpy().mean()), 4),
        },
    )


def _stamp(data: DataConfig) -> dict[str, object]:
    fields = dataclasses.asdict(data)
    # `source` decides whether this step runs at all, not what it draws.
    del fields["source"]
    return {"generator_version": GENERATOR_VERSION, **fields}
