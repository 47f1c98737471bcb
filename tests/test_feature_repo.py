"""The Feast repository rendered from group_vars matches the pipelines' schema, and the
rendered definitions are valid Feast code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jinja2
import pytest
import yaml

from pipelines import schema

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "roles" / "feature_store" / "templates"
GROUP_VARS = ROOT / "inventories" / "common" / "group_vars" / "trainer.yml"


@pytest.fixture(scope="module")
def feast_vars() -> dict:
    values = yaml.safe_load(GROUP_VARS.read_text())
    return {
        k: v for k, v in values.items() if k in ("feature_store_views", "feature_store_entities")
    }


def _view(feast_vars: dict, name: str) -> dict:
    return next(v for v in feast_vars["feature_store_views"] if v["name"] == name)


@pytest.mark.parametrize(
    ("view", "file", "features", "dense"),
    [
        (
            schema.USER_FEATURE_VIEW,
            schema.USER_FEATURES_FILE,
            schema.USER_ONLINE_FEATURES,
            schema.USER_DENSE,
        ),
        (
            schema.ITEM_FEATURE_VIEW,
            schema.ITEM_FEATURES_FILE,
            schema.ITEM_ONLINE_FEATURES,
            schema.ITEM_DENSE,
        ),
    ],
)
def test_group_vars_views_match_schema(
    feast_vars: dict, view: str, file: str, features: tuple[str, ...], dense: str
) -> None:
    declared = _view(feast_vars, view)
    assert declared["file"] == file
    assert tuple(f["name"] for f in declared["features"]) == features
    for feature in declared["features"]:
        assert feature["dtype"] == ("Float32" if feature["name"] == dense else "Int64")


def test_rendered_definitions_load_in_feast(feast_vars: dict, tmp_path: Path) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined
    )
    source = env.get_template("features.py.j2").render(
        ansible_managed="test", feature_store_data_dir=str(tmp_path), **feast_vars
    )
    module_path = tmp_path / "features.py"
    module_path.write_text(source)
    spec = importlib.util.spec_from_file_location("rendered_features", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    user_view = getattr(module, schema.USER_FEATURE_VIEW)
    assert [f.name for f in user_view.features] == list(schema.USER_ONLINE_FEATURES)
    assert user_view.entities == ["user"]
    assert user_view.batch_source.path == str(tmp_path / schema.USER_FEATURES_FILE)
