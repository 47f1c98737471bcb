"""`python -m pipelines`: known failures exit 2 with an explanation, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.__main__ import main


def test_a_bad_config_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "pipeline.yml"
    config.write_text("serving:\n  top_k: 0\n")
    assert main(["data", "--config", str(config)]) == 2
    assert "serving.top_k must be >= 1" in capsys.readouterr().err


def test_export_before_training_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "pipeline.yml"
    config.write_text(f"paths:\n  artifacts_dir: {tmp_path / 'artifacts'}\n")
    assert main(["export", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pipelines export:")
    assert "train step" in err
    assert "Traceback" not in err


def test_a_step_prints_its_result_as_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "pipeline.yml"
    config.write_text(
        f"paths:\n  data_dir: {tmp_path / 'data'}\n"
        "data:\n  n_users: 50\n  n_items: 400\n  n_categories: 5\n  n_shops: 5\n  n_brands: 5\n"
    )
    assert main(["data", "--config", str(config)]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["step"] == "data" and first["changed"] is True
    assert main(["data", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["changed"] is False
