"""Macros that read the landing zone (SPEC §1); the logic lives in benefits_mesh.landing."""

from __future__ import annotations

import datetime as dt

from sqlglot import exp
from sqlmesh import macro

from benefits_mesh.landing import (
    DeliveryFile,
    company_domains_sql,
    company_lookup_sql,
    delivery_files_of,
    files_sql,
    freshness_sql,
    landing_files_of,
    rows_sql,
    snapshot_file,
    spark_view_sql,
)
from benefits_mesh.sqlmesh_api import macro_engine, macro_execute


def _loading(evaluator) -> bool:
    """SQLMesh renders every model once at load time (to infer columns): read no file then."""
    return evaluator.runtime_stage == "loading"


def _date(value: exp.Expression) -> dt.date:
    return dt.date.fromisoformat(value.name)


def _engine(evaluator, files: list[DeliveryFile]) -> str:
    """The engine the query is rendered for; on Spark, the files' landing views are created
    first (the only engine-specific step: DESIGN.md, "Engines")."""
    engine = macro_engine(evaluator)
    if engine == "spark":
        macro_execute(evaluator, [spark_view_sql(file) for file in files])
    return engine


@macro()
def landing_rows(
    evaluator, source: exp.Expression, start_ds: exp.Expression, end_ds: exp.Expression
):
    """Raw records of one source's delivery files within the interval, all VARCHAR.

    Columns: _source_file, _delivery_date, _row_number, then the source's contract columns.
    Only the files named for the interval's days are opened, so a run's cost follows the new data.
    """
    files = landing_files_of(source.name, _date(start_ds), _date(end_ds))
    return rows_sql(source.name, files, _engine(evaluator, files))


@macro()
def landing_files(
    evaluator, start_ds: exp.Expression, end_ds: exp.Expression, source: exp.Expression = None
):
    """One row per delivery file of ``source`` (default: all) in the interval, headers checked."""
    sources = (source.name,) if source is not None else None
    files = delivery_files_of(_date(start_ds), _date(end_ds), sources)
    return files_sql(files, _engine(evaluator, files))


@macro()
def company_lookup(evaluator):
    """reference/company_lookup.json as rows (ein, company_name, industry, expected_headcount…)."""
    return company_lookup_sql(read=not _loading(evaluator), engine=macro_engine(evaluator))


@macro()
def company_domains(evaluator):
    """reference/company_lookup.json's domains: one row per (ein, domain)."""
    return company_domains_sql(read=not _loading(evaluator), engine=macro_engine(evaluator))


@macro()
def landing_freshness(evaluator):
    """Newest delivery file per source in the landing root, with its freshness thresholds."""
    return freshness_sql(read=not _loading(evaluator))


def _warn(message: str) -> None:
    import logging

    from benefits_mesh.sqlmesh_api import warn

    logging.getLogger("benefits_mesh.lending").warning(message)
    warn(message)


@macro()
def snapshot_rows(evaluator, source: exp.Expression, day: exp.Expression):
    """Raw records of the current file of the snapshot ``source`` (SPEC §5: 'lending_customers'
    | 'lending_accounts'), all VARCHAR: _source_file, _delivery_date (``day``, the day the run
    read it), _row_number, then the contract columns. No file: no rows (said by
    @snapshot_files)."""
    if _loading(evaluator):
        return rows_sql(source.name, [])
    file, _ = snapshot_file(source.name, _date(day))
    files = [file] if file else []
    return rows_sql(source.name, files, _engine(evaluator, files))


@macro()
def snapshot_files(evaluator, source: exp.Expression, day: exp.Expression):
    """One row for the current file of the snapshot ``source`` read on ``day`` (the raw side of
    its load accounting), none without the file: a plan or run that builds the model then warns
    (``[WARNING] lending: ...``), once for a missing folder."""
    if _loading(evaluator):
        return files_sql([])
    file, missing = snapshot_file(source.name, _date(day))
    if missing and (source.name == "lending_customers" or "folder" not in missing):
        _warn(missing)
    files = [file] if file else []
    return files_sql(files, _engine(evaluator, files))
