"""Macros of the savings-account summary (SPEC §5): exact half-away-from-zero rounding of DECIMAL
values. (The lending snapshot is read by @snapshot_rows / @snapshot_files, macros/landing.py,
and classified by the shared classifier, macros/classification.py.)
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro


@macro()
def round_half_away(evaluator, value: exp.Expression, places: exp.Expression) -> str:
    """``value`` rounded half away from zero to ``places`` decimals, exactly, as a DECIMAL.

    ``value`` must be an exact DECIMAL (e.g. the product of two DECIMALs, cast wide enough not
    to overflow: DuckDB sizes DECIMAL(18,2) x DECIMAL(6,4) as DECIMAL(18,6)). Written with
    FLOOR and DECIMAL multiplication only, so the tie rule does not depend on an engine's ROUND
    (DuckDB's ROUND on DECIMAL also rounds ties away from zero, but on DOUBLE it does not,
    and other engines differ); no division, which DuckDB would do in DOUBLE.
    """
    digits = int(places.name)
    if not 0 <= digits <= 18:
        raise ValueError(f"round_half_away: places must be 0..18, got {places.sql()}")
    scale = f"CAST(1{'0' * digits} AS DECIMAL(38, 0))"
    unit = f"CAST({'0.' + '0' * (digits - 1) + '1' if digits else '1'} AS DECIMAL(38, {digits}))"
    v = value.sql(dialect=evaluator.dialect)
    return (
        f"(CASE WHEN ({v}) < 0 THEN -FLOOR(-({v}) * {scale} + 0.5) "
        f"ELSE FLOOR(({v}) * {scale} + 0.5) END * {unit})"
    )
