r"""Shared normalisations of SPEC §2, written once and used by every staging model.

Each macro takes a raw VARCHAR expression and returns a typed expression (NULL when the value is
empty, whitespace-only or unparseable). They expand to plain SQL functions (REGEXP_*, TRY_CAST,
SUBSTR, LPAD) so the models stay transpilable.

Fast paths (issue 20): most delivered values are already in their clean form (no whitespace, an
EIN as NN-NNNNNNN, a lower-case enum, a plain amount like 123.45). Each normalisation first asks
one cheap question of the raw value (an anchored REGEXP_MATCHES, ~0.05 s per 2 M values) and runs
its rewriting regexes (REGEXP_REPLACE / REGEXP_EXTRACT, 0.13-0.4 s each) only when the answer is
no. Where several macros would ask the same question of one value (the four parts of an amount,
a date's text and its parse), it is asked once, as a column of its own (@amount_is_plain,
@date_is_iso), and the others read that flag: a claims row then runs six regexes, not eleven
(the in-memory classification of 2 M claims 3.11 -> 2.94 s, BENCHMARKS.md).
A fast path returns exactly what the slow path returns for every value it accepts (the
``*_slow_sql`` builders below are the definitions; tests/test_cleaning_fast_paths.py runs both
over awkward values on DuckDB, tests/test_spark.py the YAML tests on Spark). The questions end
in ``\z`` (end of text), not ``$``: Java's ``$`` (Spark) also matches before a final line break.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

WS = r"\s+"


def _sql(evaluator, expression: exp.Expression) -> str:
    return expression.sql(dialect=evaluator.dialect)


def _optional(evaluator, value: exp.Expression | None) -> str | None:
    return None if value is None else _sql(evaluator, value)


def question_sql(value: str, question: str) -> str:
    """TRUE when ``value`` matches the whole of ``question`` (a regex starting with ``^``;
    ``\\z`` is appended here), NULL for NULL: every fast path's question."""
    return f"REGEXP_MATCHES({value}, '{question}\\z')"


def flag_sql(value: str, question: str) -> str:
    """:func:`question_sql` as a column of its own (FALSE for NULL), for the macros that read the
    answer instead of asking again (@amount_is_plain, @date_is_iso)."""
    return f"COALESCE({question_sql(value, question)}, FALSE)"


def fast_path(value: str, question: str, fast: str, slow: str, answer: str | None = None) -> str:
    """``fast`` when ``value`` answers ``question`` (:func:`question_sql`), else ``slow``: the one
    shape of every fast path below. ``answer``: the question already asked (a :func:`flag_sql`
    column) of this value or of the raw value it came from, where a yes means the two are equal
    (a plain amount or an ISO date is its own normal form): read instead of asking again."""
    condition = question_sql(value, question) if answer is None else answer
    return f"CASE WHEN {condition} THEN {fast} ELSE {slow} END"


def text_slow_sql(raw: str) -> str:
    return f"NULLIF(TRIM(REGEXP_REPLACE({raw}, '{WS}', ' ', 'g')), '')"


def text_sql(raw: str) -> str:
    """Fast path: printable ASCII without a space (no whitespace of any kind, nothing TRIM
    removes: DuckDB's TRIM also drops a no-break space) is already normalised."""
    return fast_path(raw, "^[!-~]+", raw, text_slow_sql(raw))


@macro()
def normalize_text(evaluator, value: exp.Expression) -> str:
    """Trim and collapse internal whitespace runs to one space; empty becomes NULL."""
    return text_sql(_sql(evaluator, value))


def trim_sql(raw: str) -> str:
    return f"NULLIF(REGEXP_REPLACE({raw}, '^{WS}|{WS}$', '', 'g'), '')"


@macro()
def trim_text(evaluator, value: exp.Expression) -> str:
    """Trimmed (whitespace at either end), inner whitespace kept; empty becomes NULL (the
    lending keys of SPEC §5, "trimmed")."""
    return trim_sql(_sql(evaluator, value))


@macro()
def blank_as_null(evaluator, value: exp.Expression) -> str:
    """The raw value with an empty or whitespace-only field read as NULL (SPEC §1), else unchanged.

    Used where raw values are compared (exact-duplicate detection), so a blank and a
    whitespace-only field are the same value, as SPEC §1 makes both NULL before any rule runs.
    """
    raw = _sql(evaluator, value)
    return f"CASE WHEN NOT REGEXP_MATCHES({raw}, '^{WS}$') AND {raw} <> '' THEN {raw} END"


def enum_slow_sql(raw: str) -> str:
    return f"LOWER({text_slow_sql(raw)})"


def enum_sql(raw: str) -> str:
    """Fast path: only lower-case ASCII letters, digits and '_' (no whitespace, nothing LOWER
    changes): the value is its own normal form."""
    return fast_path(raw, "^[a-z0-9_]+", raw, enum_slow_sql(raw))


@macro()
def normalize_enum(evaluator, value: exp.Expression) -> str:
    """Text-normalised and lower-cased (plan_type, claim_type)."""
    return enum_sql(_sql(evaluator, value))


def ein_digits_sql(raw: str) -> str:
    return f"REGEXP_REPLACE(COALESCE({raw}, ''), '[^0-9]', '', 'g')"


def ein_from_digits_sql(digits: str) -> str:
    return (
        f"CASE WHEN LENGTH({digits}) = 9 "
        f"THEN SUBSTR({digits}, 1, 2) || '-' || SUBSTR({digits}, 3, 7) END"
    )


def ein_slow_sql(raw: str) -> str:
    return ein_from_digits_sql(ein_digits_sql(raw))


def ein_sql(raw: str) -> str:
    """Fast path: a raw EIN already in the NN-NNNNNNN form is its own result."""
    return fast_path(raw, "^[0-9]{2}-[0-9]{7}", raw, ein_slow_sql(raw))


@macro()
def parse_ein(evaluator, value: exp.Expression) -> str:
    """Digits only; exactly 9 digits is valid, rendered NN-NNNNNNN; anything else NULL."""
    return ein_sql(_sql(evaluator, value))


#: A date delivered as YYYY-MM-DD (the usual delivery): the date fast paths' question.
ISO_DATE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}"


def date_is_iso_sql(raw: str) -> str:
    """TRUE when the raw value is exactly ``YYYY-MM-DD`` (no whitespace): asked once per value,
    then read by :func:`date_text_sql` and :func:`date_from_text_sql` (FALSE for NULL)."""
    return flag_sql(raw, ISO_DATE)


def date_text_sql(raw: str, iso: str) -> str:
    """The raw date text-normalised (:func:`text_sql`). Fast path: an ISO value is its own
    normal form (digits and '-' only)."""
    return fast_path(raw, ISO_DATE, raw, text_sql(raw), iso)


def date_from_text_slow_sql(text: str) -> str:
    us_iso = (
        f"REGEXP_EXTRACT({text}, '([0-9]{{4}})$', 1) || '-' || "
        f"LPAD(REGEXP_EXTRACT({text}, '^([0-9]{{1,2}})/', 1), 2, '0') || '-' || "
        f"LPAD(REGEXP_EXTRACT({text}, '/([0-9]{{1,2}})/', 1), 2, '0')"
    )
    return (
        f"CASE WHEN REGEXP_MATCHES({text}, '{ISO_DATE}$') "
        f"THEN TRY_CAST({text} AS DATE) "
        f"WHEN REGEXP_MATCHES({text}, '^[0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}}$') "
        f"THEN TRY_CAST({us_iso} AS DATE) END"
    )


def date_from_text_sql(text: str, iso: str | None = None) -> str:
    """The date of a text-normalised value. Fast path, given the raw value's
    :func:`date_is_iso_sql` flag: an ISO value is cast (what the slow path's first branch does)."""
    slow = date_from_text_slow_sql(text)
    if iso is None:
        return slow
    return fast_path(text, ISO_DATE, f"TRY_CAST({text} AS DATE)", slow, iso)


@macro()
def parse_date(evaluator, value: exp.Expression) -> str:
    """YYYY-MM-DD or M/D/YYYY (1-2 digit month/day) that is a real calendar date, else NULL."""
    return date_from_text_sql(text_sql(_sql(evaluator, value)))


@macro()
def date_is_iso(evaluator, value: exp.Expression) -> str:
    """TRUE when the raw value is exactly YYYY-MM-DD: the flag @date_text and @date_from_text
    read, so the question is asked once per value."""
    return date_is_iso_sql(_sql(evaluator, value))


@macro()
def date_text(evaluator, value: exp.Expression, iso: exp.Expression) -> str:
    """@normalize_text of a raw date, given its @date_is_iso flag."""
    return date_text_sql(_sql(evaluator, value), _sql(evaluator, iso))


@macro()
def date_from_text(evaluator, text: exp.Expression, iso: exp.Expression = None) -> str:
    """@parse_date over a value already text-normalised (@date_text or @normalize_text, computed
    once), given the raw value's @date_is_iso flag when there is one."""
    return date_from_text_sql(_sql(evaluator, text), _optional(evaluator, iso))


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
# Amounts are parsed in parts, each computed once as a column (regexes are most of the cost of a
# 20 M-row day): @amount_text, then @amount_integer / @amount_fraction over it, then the
# *_parts_* and @amount_from_parts macros over those columns (stg_claims__classified).
AMOUNT_GRAMMAR = "^[-$]?[0-9]+([.][0-9]+)?$"


#: An unsigned amount with digits and at most one '.' between digits (the usual delivery): the
#: fast paths' question, asked once of the raw value (@amount_is_plain) and read by the others.
PLAIN_AMOUNT = "^[0-9]+([.][0-9]+)?"


def amount_is_plain_sql(raw: str) -> str:
    """TRUE when the raw value is a plain amount (FALSE for NULL)."""
    return flag_sql(raw, PLAIN_AMOUNT)


def amount_text_slow_sql(raw: str) -> str:
    return f"REPLACE({text_slow_sql(raw)}, ',', '')"


def amount_text_sql(raw: str, plain: str | None = None) -> str:
    """Fast path: a plain amount has no whitespace and no ',' to drop."""
    return fast_path(raw, PLAIN_AMOUNT, raw, amount_text_slow_sql(raw), plain)


def amount_integer_slow_sql(text: str) -> str:
    return f"LTRIM(REGEXP_EXTRACT({text}, '^[-$]?([0-9]+)', 1), '0')"


def amount_integer_sql(text: str, plain: str | None = None) -> str:
    """Integer digits without leading zeros ('' for 0 or no match). Fast path: a plain amount's
    integer part is everything before its '.' (or all of it). ``plain``: the raw value's flag
    (a plain raw value is its own text)."""
    integer = f"LTRIM(SPLIT_PART({text}, '.', 1), '0')"
    return fast_path(text, PLAIN_AMOUNT, integer, amount_integer_slow_sql(text), plain)


def amount_fraction_slow_sql(text: str) -> str:
    return f"REGEXP_EXTRACT({text}, '[.]([0-9]+)$', 1)"


def amount_fraction_sql(text: str, plain: str | None = None) -> str:
    """Fraction digits as delivered ('' when none). Fast path: a plain amount's fraction is
    everything after its '.' ('' without one)."""
    fraction = f"SPLIT_PART({text}, '.', 2)"
    return fast_path(text, PLAIN_AMOUNT, fraction, amount_fraction_slow_sql(text), plain)


def amount_parseable_slow_sql(text: str) -> str:
    return f"COALESCE(REGEXP_MATCHES({text}, '{AMOUNT_GRAMMAR}'), FALSE)"


def amount_parseable_sql(text: str, plain: str | None = None) -> str:
    """The grammar's answer; a plain amount follows it (no question asked: a CASE, as OR may
    evaluate both sides)."""
    slow = amount_parseable_slow_sql(text)
    return slow if plain is None else fast_path(text, PLAIN_AMOUNT, "TRUE", slow, plain)


def amount_negative_sql(text: str, integer: str, fraction: str) -> str:
    return f"(STARTS_WITH({text}, '-') AND ({integer} <> '' OR RTRIM({fraction}, '0') <> ''))"


def amount_too_large_sql(integer: str, fraction: str) -> str:
    return (
        f"(LENGTH({integer}) > 7 OR (LENGTH({integer}) = 7 AND "
        f"({integer} > '1000000' OR RTRIM({fraction}, '0') <> '')))"
    )


def amount_value_slow_sql(
    text: str, integer: str, fraction: str, parseable: str, digits: int = 7
) -> str:
    """The amount as DECIMAL(18,2) when it has at most ``digits`` integer digits, else NULL.

    Up to 15 digits the exact value fits DECIMAL(18,3); 16 digits (all DECIMAL(18,2) holds) are
    rounded in DECIMAL(38,3) and TRY_CAST back, so 9,999,999,999,999,999.995 (which rounds past
    DECIMAL(18,2)) is NULL, not an error."""
    if not 1 <= digits <= 16:
        raise ValueError(f"amount: integer digits must be 1..16, got {digits}")
    wide, cast = ("DECIMAL(18, 3)", "CAST") if digits <= 15 else ("DECIMAL(38, 3)", "TRY_CAST")
    magnitude = (
        f"{cast}(ROUND(CAST(COALESCE(NULLIF({integer}, ''), '0') || '.' || "
        f"SUBSTR({fraction} || '000', 1, 3) AS {wide}), 2) AS DECIMAL(18, 2))"
    )
    return (
        f"CASE WHEN {parseable} AND LENGTH({integer}) <= {digits} THEN "
        f"CASE WHEN STARTS_WITH({text}, '-') THEN -{magnitude} ELSE {magnitude} END END"
    )


def amount_value_sql(
    text: str,
    integer: str,
    fraction: str,
    parseable: str,
    digits: int = 7,
    plain: str | None = None,
) -> str:
    """:func:`amount_value_slow_sql` with a fast path: an unsigned amount with at most 2 decimals
    and no leading zero is exactly its DECIMAL(18,2) cast (nothing to round), and its pattern
    bounds its integer digits. Given the raw value's plain flag, the pattern is not asked: the
    parts' lengths say it."""
    slow = amount_value_slow_sql(text, integer, fraction, parseable, digits)
    if plain is None:
        exact = f"^[1-9][0-9]{{0,{digits - 1}}}([.][0-9]{{1,2}})?"
        return fast_path(text, exact, f"CAST({text} AS DECIMAL(18, 2))", slow)
    exact = (
        f"{plain} AND NOT STARTS_WITH({text}, '0') AND LENGTH({integer}) <= {digits} "
        f"AND LENGTH({fraction}) <= 2"
    )
    return f"CASE WHEN {exact} THEN CAST({text} AS DECIMAL(18, 2)) ELSE {slow} END"


@macro()
def amount_is_plain(evaluator, value: exp.Expression) -> str:
    """TRUE when the raw amount is plain (digits, at most one '.' between digits): the flag the
    amount macros below read, so the question is asked once per value."""
    return amount_is_plain_sql(_sql(evaluator, value))


@macro()
def amount_text(evaluator, value: exp.Expression, plain: exp.Expression = None) -> str:
    """The raw amount text-normalised with every ',' dropped (NULL when blank); ``plain``: the
    raw value's @amount_is_plain flag."""
    return amount_text_sql(_sql(evaluator, value), _optional(evaluator, plain))


@macro()
def amount_integer(evaluator, text: exp.Expression, plain: exp.Expression = None) -> str:
    """Integer digits of @amount_text's output, leading zeros dropped ('' for none)."""
    return amount_integer_sql(_sql(evaluator, text), _optional(evaluator, plain))


@macro()
def amount_fraction(evaluator, text: exp.Expression, plain: exp.Expression = None) -> str:
    """Fraction digits of @amount_text's output ('' for none)."""
    return amount_fraction_sql(_sql(evaluator, text), _optional(evaluator, plain))


@macro()
def amount_text_is_parseable(evaluator, text: exp.Expression, plain: exp.Expression = None) -> str:
    """TRUE when @amount_text's output follows the grammar above (NULL text: FALSE)."""
    return amount_parseable_sql(_sql(evaluator, text), _optional(evaluator, plain))


@macro()
def amount_parts_are_negative(evaluator, text, integer, fraction) -> str:
    """TRUE for a parseable amount whose exact value is below zero (-0.00 is not), from the
    (@amount_text, @amount_integer, @amount_fraction) columns."""
    return amount_negative_sql(*(_sql(evaluator, part) for part in (text, integer, fraction)))


@macro()
def amount_parts_are_too_large(evaluator, integer, fraction) -> str:
    """TRUE for a parseable amount whose exact value exceeds 1,000,000.00, from the
    (@amount_integer, @amount_fraction) columns."""
    return amount_too_large_sql(_sql(evaluator, integer), _sql(evaluator, fraction))


@macro()
def amount_from_parts(
    evaluator, text, integer, fraction, parseable, digits=None, plain: exp.Expression = None
) -> str:
    """DECIMAL(18,2) rounded half-up, for parseable amounts with at most ``digits`` integer
    digits (default 7: claims, whose bound is 1,000,000.00; 16 for a balance with no bound but
    DECIMAL(18,2)), else NULL: from the part columns and the @amount_text_is_parseable flag
    (and the raw value's @amount_is_plain flag, ``plain :=``)."""
    parts = (_sql(evaluator, p) for p in (text, integer, fraction, parseable))
    return amount_value_sql(
        *parts, digits=7 if digits is None else int(digits.name), plain=_optional(evaluator, plain)
    )
