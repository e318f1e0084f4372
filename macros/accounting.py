"""The load accounting, written once for every source, over the contract's reject reasons
(benefits_mesh.contract is the single list)."""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

from benefits_mesh.contract import ACCOUNTED_SOURCES, CLASSIFICATION, all_reasons


@macro(metadata_only=True)
def accounted_sources(evaluator) -> exp.Tuple:
    """Every source of marts.fct_load_accounting, for its accepted_values audit."""
    return exp.Tuple(expressions=[exp.Literal.string(source) for source in ACCOUNTED_SOURCES])


@macro()
def reason_sum(evaluator) -> str:
    """`reason_a + reason_b + …` over every reject reason column (the load accounting identity)."""
    return " + ".join(all_reasons())


@macro()
def load_accounting(
    evaluator,
    source: exp.Expression,
    start: exp.Expression | None = None,
    end: exp.Expression | None = None,
) -> exp.Query:
    """The load accounting of one source (SPEC §2, §3): one row per file of
    ``staging.stg_<source>__files`` with the outcome counts of ``staging.stg_<source>__classified``.

    ``raw_rows`` comes from the file scan, the outcomes from the classified rows, so the
    ``load_conservation`` audit compares two independent counts; a header-only file has no
    classified rows (zeros). With ``start`` and ``end`` (``@start_date, @end_date`` of an
    INCREMENTAL_BY_TIME_RANGE model: the daily sources) both sides are read for those delivery
    dates only; without them every row (the FULL snapshot sources)."""
    name = source.name
    if (start is None) != (end is None):
        raise ValueError("load_accounting: give both start and end, or neither")

    def window(column: str) -> str:
        if start is None:
            return ""
        bounds = (part.sql(dialect=evaluator.dialect) for part in (start, end))
        return f"WHERE {column} BETWEEN {' AND '.join(bounds)}"

    reasons = all_reasons()
    counts = ", ".join(
        f"CAST(SUM(CASE WHEN r._reject_reason = '{reason}' THEN 1 ELSE 0 END) AS BIGINT) "
        f"AS {reason}"
        for reason in reasons
    )
    totals = ", ".join(f"COALESCE(c.{reason}, 0) AS {reason}" for reason in reasons)
    sql = f"""
    WITH delivery_files AS (
      SELECT f.source_file, f.delivery_date, f.raw_rows
      FROM staging.stg_{name}__files AS f {window("f.delivery_date")}
    ), counted_rows AS (
      SELECT
        r._source_file AS source_file,
        r._delivery_date AS delivery_date,
        COUNT(*) AS classified_rows,
        SUM(CASE WHEN r._row_status = 'staged' THEN 1 ELSE 0 END) AS staged_rows,
        SUM(CASE WHEN r._row_status = 'duplicate' THEN 1 ELSE 0 END) AS duplicate_rows,
        SUM(CASE WHEN r._row_status = 'quarantined' THEN 1 ELSE 0 END) AS quarantined_rows,
        {counts}
      FROM staging.stg_{name}__classified AS r {window("r._delivery_date")}
      GROUP BY r._source_file, r._delivery_date
    )
    SELECT
      '{name}'::TEXT AS source,
      COALESCE(f.source_file, c.source_file)::TEXT AS source_file,
      COALESCE(f.delivery_date, c.delivery_date)::DATE AS delivery_date,
      COALESCE(f.raw_rows, c.classified_rows, 0)::BIGINT AS raw_rows,
      COALESCE(c.staged_rows, 0)::BIGINT AS staged_rows,
      COALESCE(c.duplicate_rows, 0)::BIGINT AS duplicate_rows,
      COALESCE(c.quarantined_rows, 0)::BIGINT AS quarantined_rows,
      {totals}
    FROM delivery_files AS f
    FULL OUTER JOIN counted_rows AS c
      ON f.source_file = c.source_file
    """
    return evaluator.parse_one(sql)


@macro()
def raw_values_text(evaluator, source: exp.Expression, alias: exp.Expression) -> str:
    """One text column with a classified row's raw values, ``col=value; col=value; …`` over the
    source's contract columns in contract order (a missing value renders as ``col=``): portable
    SQL (``||`` and COALESCE; no JSON or struct type), for marts.trace_load_accounting. Every
    part is non-NULL, so plain ``||`` is used: sqlglot renders CONCAT_WS for DuckDB as a CASE
    over every part's nullity."""
    name, table = source.name, alias.name
    if name not in CLASSIFICATION:
        raise ValueError(f"raw_values_text: unknown source {name!r}")
    return " || '; ' || ".join(
        f"'{column}=' || COALESCE({table}.raw_{column}, '')"
        for column in CLASSIFICATION[name]["columns"]
    )
