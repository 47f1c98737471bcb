"""The Feast definitions the feature_store role renders from the contract's schema are
valid Feast code, with the views and columns the pipelines and the serving path use."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jinja2
import pytest

import recstack_contract
from pipelines import schema

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "roles" / "feature_store" / "templates"


@pytest.fixture(scope="module")
def feast_vars() -> dict:
    """The role's defaults for the schema: the contract's entities and views."""
    schema_vars = recstack_contract.variables()["features"]
    return {
        "feature_store_entities": schema_vars["entities"],
        "feature_store_views": schema_vars["views"],
    }


def test_rendered_definitions_load_in_feast(feast_vars: dict, tmp_path: Path) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined
    )
    source = env.get_template("features.py.j2").render(
        ansible_managed="test",
        feature_store_data_dir=str(tmp_path),
        recstack_contract=recstack_contract.variables(),
        **feast_vars,
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
