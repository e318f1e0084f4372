"""Every fast path of macros/cleaning.py returns exactly what its slow path (the definition)
returns, on DuckDB, for awkward values: whitespace of every kind and place, line breaks at the
end (where Java's ``$`` would differ), case, signs, separators, leading zeros, bounds, NULL.

Fast and slow are both rendered by the module and run in one query over the same values, so a
fast path that accepts a value it should not is a row where the two disagree. Spark runs the same
macros through the YAML unit tests (tests/test_spark.py).
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # the project's macros/ folder, as SQLMesh's loader sees it

from macros import cleaning  # noqa: E402

SPACES = ["", " ", "  ", "\t", "\n", "\r\n", "\f", "\v", "\u00a0"]
WORDS = ["C1", "CL20261101-1", "a b", "A", "x_y", "medical", "Medical", "MEDICAL", "Ärzte", "é"]
EINS = ["12-3456789", "123456789", "12 3456789", "12-345678", "12-34567890", "1-23456789",
        "ab-cdefghi", "12–3456789", "１２-3456789"]  # fmt: skip
AMOUNTS = ["0", "0.5", "0.50", "00012.50", "1", "12", "12.3", "12.34", "12.345", "12.3456",
           "1000000", "1000000.00", "1000000.01", "9999999.99", "10000000", "12.", ".5", "-5",
           "$5.00", "-$5", "1,234.56", "1e3", "12.34.56", "(5.00)", "+5", "٣", "1234567890123456",
           "12345678901234567.5", "9999999999999999.995", "0000000000000000000012.5",
           "00", "0.00", "1.5.", "1..5"]  # fmt: skip
DATES = ["2026-11-05", "2026-1-5", "11/5/2026", "1/5/2026", "2026-02-30", "2026-02-29",
         "2024-02-29", "2026/11/05", "20261105", "2026-11-05T00:00", "2026-11-5", "0000-01-01",
         "٢٠٢٦-11-05", "11-05-2026", "13/1/2026"]  # fmt: skip


def _variants(values: list[str]) -> list[str | None]:
    """Each value as delivered, then wrapped in every kind of whitespace on either side."""
    out: list[str | None] = [None, *SPACES]
    for value in values:
        out.append(value)
        for space in SPACES[1:]:
            out += [space + value, value + space, value[:1] + space + value[1:]]
    return out


def _disagreements(fast: str, slow: str, values: list[str | None]) -> list[tuple]:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE v (x VARCHAR)")
        con.executemany("INSERT INTO v VALUES (?)", [(value,) for value in values])
        return con.execute(
            f"SELECT x, {fast} AS fast, {slow} AS slow FROM v WHERE {fast} IS DISTINCT FROM {slow}"
        ).fetchall()


@pytest.mark.parametrize(
    ("name", "fast", "slow", "values"),
    [
        ("text", cleaning.text_sql, cleaning.text_slow_sql, WORDS + EINS + AMOUNTS),
        ("enum", cleaning.enum_sql, cleaning.enum_slow_sql, WORDS),
        ("ein", cleaning.ein_sql, cleaning.ein_slow_sql, EINS),
        ("amount text", cleaning.amount_text_sql, cleaning.amount_text_slow_sql, AMOUNTS),
    ],
)
def test_fast_path_equals_slow_path(name, fast, slow, values) -> None:
    values = _variants(values)
    assert len(values) > 50
    assert _disagreements(fast("x"), slow("x"), values) == [], name


def test_date_fast_paths_given_the_iso_flag_equal_slow_paths() -> None:
    """The ISO question asked once of the raw value (@date_is_iso), then read by @date_text and
    @date_from_text: the same text and date as normalising and parsing without it."""
    iso = f"({cleaning.date_is_iso_sql('x')})"
    fast_text = cleaning.date_text_sql("x", iso)
    slow_text = cleaning.text_slow_sql("x")
    values = _variants(DATES + WORDS)
    assert _disagreements(fast_text, slow_text, values) == []
    fast = cleaning.date_from_text_sql(f"({fast_text})", iso)
    slow = cleaning.date_from_text_slow_sql(f"({slow_text})")
    assert _disagreements(fast, slow, values) == []
    with duckdb.connect() as con:  # the flag is set (and the fast path taken) for ISO dates only
        assert con.execute(
            f"SELECT {iso} FROM (VALUES ('2026-11-05'), (' 2026-11-05'), ('11/5/2026'), (NULL)) "
            "AS v(x)"
        ).fetchall() == [(True,), (False,), (False,), (False,)]


@pytest.mark.parametrize("digits", [7, 16])
def test_amount_fast_paths_given_the_plain_flag_equal_slow_paths(digits: int) -> None:
    """The plain-amount question asked once of the raw value (@amount_is_plain), then read by
    the text, parts, grammar and value macros: the same results as the slow paths."""
    plain = f"({cleaning.amount_is_plain_sql('x')})"
    values = _variants(AMOUNTS)
    text_fast = f"({cleaning.amount_text_sql('x', plain)})"
    text = f"({cleaning.amount_text_slow_sql('x')})"
    assert _disagreements(text_fast, text, values) == []
    parts = (
        (cleaning.amount_integer_sql, cleaning.amount_integer_slow_sql),
        (cleaning.amount_fraction_sql, cleaning.amount_fraction_slow_sql),
        (cleaning.amount_parseable_sql, cleaning.amount_parseable_slow_sql),
    )
    for fast, slow in parts:
        assert _disagreements(fast(text_fast, plain), slow(text), values) == [], fast.__name__
    integer = f"({cleaning.amount_integer_slow_sql(text)})"
    fraction = f"({cleaning.amount_fraction_slow_sql(text)})"
    parseable = f"({cleaning.amount_parseable_slow_sql(text)})"
    fast = cleaning.amount_value_sql(text, integer, fraction, parseable, digits, plain)
    slow = cleaning.amount_value_slow_sql(text, integer, fraction, parseable, digits)
    assert _disagreements(fast, slow, values) == []
    with duckdb.connect() as con:  # the fast path is taken for the usual amounts
        assert con.execute(f"SELECT {plain}, {fast} FROM (SELECT '1234.5' AS x)").fetchone() == (
            True,
            Decimal("1234.50"),
        )


@pytest.mark.parametrize("digits", [7, 16])
def test_amount_parts_and_value_fast_paths_equal_slow_paths(digits: int) -> None:
    """The integer and fraction parts and the DECIMAL(18,2) value, from @amount_text's output."""
    text = cleaning.amount_text_slow_sql("x")
    values = _variants(AMOUNTS)
    for fast, slow in (
        (cleaning.amount_integer_sql, cleaning.amount_integer_slow_sql),
        (cleaning.amount_fraction_sql, cleaning.amount_fraction_slow_sql),
    ):
        assert _disagreements(fast(f"({text})"), slow(f"({text})"), values) == []

    integer = f"({cleaning.amount_integer_slow_sql(f'({text})')})"
    fraction = f"({cleaning.amount_fraction_slow_sql(f'({text})')})"
    parseable = f"({cleaning.amount_parseable_slow_sql(f'({text})')})"
    args = (f"({text})", integer, fraction, parseable)
    fast = cleaning.amount_value_sql(*args, digits=digits)
    slow = cleaning.amount_value_slow_sql(*args, digits=digits)
    assert fast != slow
    assert _disagreements(fast, slow, values) == []
    # the fast path is taken (and right) for the usual amounts
    with duckdb.connect() as con:
        assert con.execute(f"SELECT {fast} FROM (SELECT '1234.5' AS x)").fetchone() == (
            Decimal("1234.50"),
        )
