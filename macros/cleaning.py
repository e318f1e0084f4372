"""Shared normalisations of SPEC §2, written once and used by every staging model.

Each macro takes a raw VARCHAR expression and returns a typed expression (NULL when the value is
empty, whitespace-only or unparseable). They expand to plain SQL functions (REGEXP_*, TRY_CAST,
SUBSTR, LPAD) so the models stay transpilable.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

WS = r"\s+"


def _sql(evaluator, expression: exp.Expression) -> str:
    return expression.sql(dialect=evaluator.dialect)


def text_sql(raw: str) -> str:
    return f"NULLIF(TRIM(REGEXP_REPLACE({raw}, '{WS}', ' ', 'g')), '')"


@macro()
def normalize_text(evaluator, value: exp.Expression) -> str:
    """Trim and collapse internal whitespace runs to one space; empty becomes NULL."""
    return text_sql(_sql(evaluator, value))


@macro()
def blank_as_null(evaluator, value: exp.Expression) -> str:
    """The raw value with an empty or whitespace-only field read as NULL (SPEC §1), else unchanged.

    Used where raw values are compared (exact-duplicate detection), so a blank and a
    whitespace-only field are the same value, as SPEC §1 makes both NULL before any rule runs.
    """
    raw = _sql(evaluator, value)
    return f"CASE WHEN NOT REGEXP_MATCHES({raw}, '^{WS}$') AND {raw} <> '' THEN {raw} END"


@macro()
def normalize_enum(evaluator, value: exp.Expression) -> str:
    """Text-normalised and lower-cased (plan_type, claim_type)."""
    return f"LOWER({text_sql(_sql(evaluator, value))})"


@macro()
def parse_ein(evaluator, value: exp.Expression) -> str:
    """Digits only; exactly 9 digits is valid, rendered NN-NNNNNNN; anything else NULL."""
    digits = f"REGEXP_REPLACE(COALESCE({_sql(evaluator, value)}, ''), '[^0-9]', '', 'g')"
    return (
        f"CASE WHEN LENGTH({digits}) = 9 "
        f"THEN SUBSTR({digits}, 1, 2) || '-' || SUBSTR({digits}, 3, 7) END"
    )


@macro()
def parse_date(evaluator, value: exp.Expression) -> str:
    """YYYY-MM-DD or M/D/YYYY (1-2 digit month/day) that is a real calendar date, else NULL."""
    text = text_sql(_sql(evaluator, value))
    us_iso = (
        f"REGEXP_EXTRACT({text}, '([0-9]{{4}})$', 1) || '-' || "
        f"LPAD(REGEXP_EXTRACT({text}, '^([0-9]{{1,2}})/', 1), 2, '0') || '-' || "
        f"LPAD(REGEXP_EXTRACT({text}, '/([0-9]{{1,2}})/', 1), 2, '0')"
    )
    return (
        f"CASE WHEN REGEXP_MATCHES({text}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$') "
        f"THEN TRY_CAST({text} AS DATE) "
        f"WHEN REGEXP_MATCHES({text}, '^[0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}}$') "
        f"THEN TRY_CAST({us_iso} AS DATE) END"
    )


@macro()
def normalize_email(evaluator, value: exp.Expression) -> str:
    """Trimmed (any whitespace), lower-cased; NULL unless it looks like local@domain.tld."""
    email = f"LOWER(REGEXP_REPLACE({_sql(evaluator, value)}, '^{WS}|{WS}$', '', 'g'))"
    return f"CASE WHEN REGEXP_MATCHES({email}, '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$') THEN {email} END"


# Amounts ---------------------------------------------------------------------------------------
# Text-normalise, drop every ',', then one optional leading '$' or '-' before the digits:
# `-?digits[.digits]` or `$digits[.digits]` ($-5, -$5, .5, 1e3, (5.00), 12.34.56 are unparseable).
# Threshold rules (negative, too large) use the exact value; the staged amount is rounded half-up
# to cents from the first three decimals, which is exact for half-up rounding.


def amount_text_sql(raw: str) -> str:
    return f"REPLACE({text_sql(raw)}, ',', '')"


def _amount_parts(raw: str) -> tuple[str, str, str]:
    text = amount_text_sql(raw)
    integer = f"LTRIM(REGEXP_EXTRACT({text}, '^[-$]?([0-9]+)', 1), '0')"
    fraction = f"REGEXP_EXTRACT({text}, '[.]([0-9]+)$', 1)"
    return text, integer, fraction


@macro()
def amount_is_parseable(evaluator, value: exp.Expression) -> str:
    """TRUE when the non-empty amount text follows the grammar above."""
    text = amount_text_sql(_sql(evaluator, value))
    return f"COALESCE(REGEXP_MATCHES({text}, '^[-$]?[0-9]+([.][0-9]+)?$'), FALSE)"


@macro()
def amount_is_negative(evaluator, value: exp.Expression) -> str:
    """TRUE for a parseable amount whose exact value is below zero (-0.00 is not)."""
    text, integer, fraction = _amount_parts(_sql(evaluator, value))
    return f"(STARTS_WITH({text}, '-') AND ({integer} <> '' OR RTRIM({fraction}, '0') <> ''))"


@macro()
def amount_is_too_large(evaluator, value: exp.Expression) -> str:
    """TRUE for a parseable amount whose exact value exceeds 1,000,000.00."""
    _, integer, fraction = _amount_parts(_sql(evaluator, value))
    return (
        f"(LENGTH({integer}) > 7 OR (LENGTH({integer}) = 7 AND "
        f"({integer} > '1000000' OR RTRIM({fraction}, '0') <> '')))"
    )


@macro()
def parse_amount(evaluator, value: exp.Expression) -> str:
    """DECIMAL(18,2) rounded half-up, for parseable amounts within ±1,000,000.00; else NULL."""
    raw = _sql(evaluator, value)
    text, integer, fraction = _amount_parts(raw)
    magnitude = (
        f"CAST(ROUND(CAST(COALESCE(NULLIF({integer}, ''), '0') || '.' || "
        f"SUBSTR({fraction} || '000', 1, 3) AS DECIMAL(18, 3)), 2) AS DECIMAL(18, 2))"
    )
    parseable = f"REGEXP_MATCHES({text}, '^[-$]?[0-9]+([.][0-9]+)?$')"
    return (
        f"CASE WHEN {parseable} AND LENGTH({integer}) <= 7 THEN "
        f"CASE WHEN STARTS_WITH({text}, '-') THEN -{magnitude} ELSE {magnitude} END END"
    )
