"""Macros for the intermediate and marts layers: notes fields and exact percentage rounding."""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro


def _render(evaluator, expression: exp.Expression) -> str:
    return expression.sql(dialect=evaluator.dialect)


@macro()
def note_value(evaluator, notes: exp.Expression, key: exp.Expression) -> str:
    """The value of the FIRST `key: value` / `key=value` field in free-text notes (SPEC §2).

    Fields are separated by ';' or '|'; keys are case-insensitive; spaces around the separator
    are allowed. Returns the trimmed value ('' becomes NULL), or NULL when the key is absent.
    """
    name = key.name.lower()
    pattern = f"(?i)(^|[;|])\\s*{name}\\s*[:=]\\s*([^;|]*)"
    text = _render(evaluator, notes)
    return (
        f"CASE WHEN REGEXP_MATCHES({text}, '{pattern}') "
        f"THEN NULLIF(TRIM(REGEXP_EXTRACT({text}, '{pattern}', 2)), '') END"
    )


@macro()
def terminated_phrase_date(evaluator, notes: exp.Expression) -> str:
    """The date text in the first 'terminated <date>' phrase of the notes (case-insensitive)."""
    pattern = (
        "(?i)(^|[^a-z])terminated\\s+([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4})"
        "([^0-9/-]|$)"
    )
    text = _render(evaluator, notes)
    return f"NULLIF(REGEXP_EXTRACT({text}, '{pattern}', 2), '')"


@macro()
def percent_half_away(evaluator, numerator: exp.Expression, denominator: exp.Expression) -> str:
    """numerator / denominator × 100 rounded half away from zero to 4 decimals, exactly.

    Both inputs are exact numbers with at most 2 decimals (money or counts). The quotient is
    estimated in DOUBLE and then corrected with exact DECIMAL(38, 0) products, so ties round the
    way SPEC §3 says whatever the magnitude. NULL when the denominator is not positive.
    """
    num = f"CAST(ABS({_render(evaluator, numerator)}) * 100 AS DECIMAL(38, 0)) * 1000000"
    den = f"CAST({_render(evaluator, denominator)} * 100 AS DECIMAL(38, 0))"
    estimate = f"CAST(FLOOR(CAST({num} AS DOUBLE) / CAST({den} AS DOUBLE)) AS DECIMAL(38, 0))"
    refined = (
        f"({estimate} + CAST(FLOOR(CAST({num} - {estimate} * {den} AS DOUBLE) "
        f"/ CAST({den} AS DOUBLE)) AS DECIMAL(38, 0)))"
    )
    floor = (
        f"({refined} + CASE WHEN {num} - {refined} * {den} < 0 THEN -1 "
        f"WHEN {num} - {refined} * {den} >= {den} THEN 1 ELSE 0 END)"
    )
    rounded = f"({floor} + CASE WHEN 2 * ({num} - {floor} * {den}) >= {den} THEN 1 ELSE 0 END)"
    sign = f"CASE WHEN {_render(evaluator, numerator)} < 0 THEN -1 ELSE 1 END"
    return (
        f"CASE WHEN {den} > 0 THEN CAST({sign} * {rounded} * CAST(0.0001 AS DECIMAL(38, 4)) "
        f"AS DECIMAL(18, 4)) END"
    )


@macro()
def active_on(
    evaluator, start_date: exp.Expression, term_date: exp.Expression, day: exp.Expression
) -> str:
    """TRUE when an employee record is active on ``day`` (SPEC §3 roster): started on or before
    it and not terminated on or before it (no termination date: active). The one definition the
    roster mart and its trace share."""
    start, term, on = (_render(evaluator, e) for e in (start_date, term_date, day))
    return f"({start} <= {on} AND NOT COALESCE({term} <= {on}, FALSE))"


@macro()
def is_latest_version(evaluator, person: exp.Expression, delivered: exp.Expression) -> str:
    """For QUALIFY: the row is the person's latest version by delivery date (SPEC §3 roster: the
    current state as of D is the latest version delivered on or before D, the caller filtering
    the deliveries to D). Shared by the roster mart and its trace."""
    return (
        f"ROW_NUMBER() OVER (PARTITION BY {_render(evaluator, person)} "
        f"ORDER BY {_render(evaluator, delivered)} DESC) = 1"
    )
