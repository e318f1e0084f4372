"""The order SQLMesh's workers take ready models in (sqlmesh_api.most_dependents_first, issue 20):
the model most others wait for first, on a real Context applying a real plan to a DuckDB file.

The project below has the shape that cost the daily run its time: a model reading an EMBEDDED
one (as stg_claims__classified reads stg_claims__landed) with a chain below it, and small models
without dependents whose names sort first. Two workers, as config.yaml sets: each model records when
it was evaluated (DuckDB's NOW()). (With one worker SQLMesh walks its own sorted order, ignoring
the one given to the workers, and nothing overlaps: the order then costs nothing.)"""

from __future__ import annotations

import pytest
from sqlmesh import Context
from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig

from benefits_mesh import sqlmesh_api

MODELS = {
    # small models without dependents, first by layer and name in SQLMesh's own order
    **{
        f"a_reference_{k}": f"MODEL (name t.a_reference_{k}, kind FULL); "
        f"SELECT {k} AS k, NOW() AS evaluated_at"
        for k in range(1, 7)
    },
    "landed": "MODEL (name t.landed, kind EMBEDDED); SELECT 1 AS k",
    # the long chain: classified -> current -> cost -> spikes
    "classified": "MODEL (name t.classified, kind FULL); "
    "SELECT k, NOW() AS evaluated_at FROM t.landed",
    "current": "MODEL (name t.current, kind FULL); "
    "SELECT k, NOW() AS evaluated_at FROM t.classified",
    "cost": "MODEL (name t.cost, kind FULL); SELECT k, NOW() AS evaluated_at FROM t.current",
    "spikes": "MODEL (name t.spikes, kind FULL); SELECT k, NOW() AS evaluated_at FROM t.cost",
}


@pytest.fixture
def context(tmp_path):
    sqlmesh_api.most_dependents_first()
    (tmp_path / "models").mkdir()
    for name, text in MODELS.items():
        (tmp_path / "models" / f"{name}.sql").write_text(text)
    config = Config(
        gateways={
            "local": GatewayConfig(
                connection=DuckDBConnectionConfig(
                    database=str(tmp_path / "warehouse.duckdb"), concurrent_tasks=2
                )
            )
        },
        default_gateway="local",
        model_defaults=ModelDefaultsConfig(dialect="duckdb", start="2026-01-01"),
        disable_anonymized_analytics=True,
    )
    ctx = Context(paths=tmp_path, config=config)
    yield ctx
    ctx.close()


def evaluation_order(ctx: Context) -> list[str]:
    models = [name for name in MODELS if name != "landed"]
    union = " UNION ALL ".join(
        f"SELECT '{name}' AS model, evaluated_at FROM t.{name}" for name in models
    )
    rows = ctx.engine_adapter.fetchall(f"SELECT model FROM ({union}) ORDER BY evaluated_at, model")
    return [model for (model,) in rows]


def test_the_model_most_others_wait_for_starts_first(context):
    """In SQLMesh's order `classified` is handed out seventh, after the six references; here it is
    handed out first. Two workers race only for the first place: a reference evaluated before
    it is one the second worker took at the same moment, so it is among the first two."""
    context.plan(auto_apply=True, no_prompts=True, skip_tests=True)
    order = evaluation_order(context)
    assert "classified" in order[:2], order
    chain = [order.index(model) for model in ("classified", "current", "cost", "spikes")]
    assert chain == sorted(chain), order
