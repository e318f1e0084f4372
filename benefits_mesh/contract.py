"""The landing contract of SPEC §1–§2 as data: per source, how a delivery row is classified.

One description per source (``EMPLOYEES``, ``PLANS``, ``CLAIMS`` delivered daily;
``LENDING_CUSTOMERS``, ``LENDING_ACCOUNTS``: the full snapshots of SPEC §5), rendered into the
staging model ``stg_<src>__classified`` by ``macros/classification.py`` (SPEC §2's order of
work: exact duplicates collapse, rows sharing a business key are ``conflicting_duplicate``, else
the first failing rule is the reject reason). ``COLUMNS``, ``KEYS`` and ``REJECT_REASONS`` are
read off the descriptions for the rest of the project (landing reader, generator, load
accounting, docs).

Plain data only (dicts, tuples, strings): SQLMesh stores a macro's globals in the model by value,
so a change here changes the fingerprint of the one model whose description changed. Keys:

``landed``
    The model (or relation) holding the file's raw records, all VARCHAR: the ``metadata``
    columns, then the ``columns``.
``metadata`` (optional)
    Default ``("_source_file", "_delivery_date", "_row_number")``; a relation without a
    delivery date may leave out ``_delivery_date`` (the lending snapshots carry the day the
    run read them).
``columns``
    The contract columns, in contract order, as the landed model names them. Inside the
    description the raw value of column ``c`` is ``raw_c``; exact duplicates compare these raw
    values (a blank field equal to NULL, SPEC §1).
``headers`` (optional)
    The column's name in the file header where it differs from its name here (e.g.
    ``{"customer_id": "CustomerID"}``); header names are matched trimmed and case-insensitively.
``values``
    Derived values in order, ``(name, SQL expression)``. An expression reads raw values,
    ``_delivery_date``/``_source_file``/``_row_number`` and earlier values, and may call the
    cleaning macros of macros/cleaning.py (``@normalize_text(raw_claim_id)``; the list is
    ``cleaning_macros()`` in macros/classification.py); each value is computed once. Any SQL
    goes: a ``CASE`` mapping codes, a sub-query against another model (it qualifies its own
    columns, ``c.customer_id``; the row's names stay unqualified).
``key``
    The business key: a value computed from raw values only. Non-NULL keys shared by distinct
    rows of one file make those rows ``conflicting_duplicate``.
``rules``
    ``(reject reason, SQL condition)`` in rule order, over the same names (macros allowed); the
    first condition that is TRUE is the reason. A NULL condition does not reject.
``output``
    The model's columns in order before the metadata, ``(name, SQL type[, comment])``; the
    column is the value (or raw value) of that name cast to the type, the comment becomes the
    column description. ``("raw_*", type, comment)`` stands for ``raw_<c>`` of every contract
    column in contract order. Then come ``_row_status``, ``_reject_reason``, the metadata columns
    and ``_loaded_at``.

``file`` (snapshots only)
    The file name in ``landing/lending/`` (a full snapshot, re-read by each day's first run).

The lending snapshots (``LENDING_CUSTOMERS``, ``LENDING_ACCOUNTS``) show a rule reading another
model (``unknown_customer``: a sub-query against ``staging.stg_lending_customers``).
"""

from __future__ import annotations

#: Casts and comments shared by the three benefits sources' outputs.
_KEY_COMMENT = "text-normalised business key (NULL when missing)"
_EIN_COMMENT = "canonical NN-NNNNNNN, NULL when invalid"
_RAW = ("raw_*", "TEXT", "raw values as delivered")

EMPLOYEES: dict = {
    "landed": "staging.stg_employees__landed",
    "columns": ("person_id", "full_name", "email", "title", "company_ein", "start_date", "notes"),
    "values": (
        ("person_id", "@normalize_text(raw_person_id)"),
        ("full_name", "@normalize_text(raw_full_name)"),
        ("email", "@normalize_email(raw_email)"),
        ("title", "@normalize_text(raw_title)"),
        ("company_ein", "@parse_ein(raw_company_ein)"),
        ("start_date_iso", "@date_is_iso(raw_start_date)"),
        ("start_date_text", "@date_text(raw_start_date, start_date_iso)"),
        ("start_date", "@date_from_text(start_date_text, start_date_iso)"),
        ("notes", "@normalize_text(raw_notes)"),
    ),
    "key": "person_id",
    "rules": (
        ("missing_person_id", "person_id IS NULL"),
        ("missing_start_date", "start_date_text IS NULL"),
        ("invalid_start_date", "start_date IS NULL"),
    ),
    "output": (
        ("person_id", "TEXT", _KEY_COMMENT),
        ("full_name", "TEXT"),
        ("email", "TEXT", "lower-cased; NULL unless a valid address"),
        ("title", "TEXT"),
        ("company_ein", "TEXT", _EIN_COMMENT),
        ("notes", "TEXT", "text-normalised free text, parsed in intermediate"),
        _RAW,
        ("start_date", "DATE"),
    ),
}

PLANS: dict = {
    "landed": "staging.stg_plans__landed",
    "columns": ("plan_id", "company_ein", "plan_type", "carrier_name", "start_date", "end_date"),
    "values": (
        ("plan_id", "@normalize_text(raw_plan_id)"),
        ("company_ein", "@parse_ein(raw_company_ein)"),
        ("plan_type", "@normalize_enum(raw_plan_type)"),
        ("carrier_name", "@normalize_text(raw_carrier_name)"),
        ("start_date_iso", "@date_is_iso(raw_start_date)"),
        ("start_date_text", "@date_text(raw_start_date, start_date_iso)"),
        ("start_date", "@date_from_text(start_date_text, start_date_iso)"),
        ("end_date_iso", "@date_is_iso(raw_end_date)"),
        ("end_date_text", "@date_text(raw_end_date, end_date_iso)"),
        ("end_date", "@date_from_text(end_date_text, end_date_iso)"),
    ),
    "key": "plan_id",
    "rules": (
        ("missing_plan_id", "plan_id IS NULL"),
        ("invalid_ein", "company_ein IS NULL"),
        (
            "unknown_plan_type",
            "plan_type IS NULL OR NOT plan_type IN ('medical', 'dental', 'vision')",
        ),
        ("missing_start_date", "start_date_text IS NULL"),
        ("invalid_start_date", "start_date IS NULL"),
        ("invalid_end_date", "NOT end_date_text IS NULL AND end_date IS NULL"),
        ("end_before_start", "end_date < start_date"),
    ),
    "output": (
        ("plan_id", "TEXT", _KEY_COMMENT),
        ("company_ein", "TEXT", _EIN_COMMENT),
        ("plan_type", "TEXT"),
        ("carrier_name", "TEXT", "text-normalised; aliases resolved in intermediate"),
        _RAW,
        ("start_date", "DATE"),
        ("end_date", "DATE", "NULL = open-ended"),
    ),
}

CLAIMS: dict = {
    "landed": "staging.stg_claims__landed",
    "columns": ("claim_id", "person_id", "company_ein", "claim_type", "service_date", "amount"),
    "values": (
        ("claim_id", "@normalize_text(raw_claim_id)"),
        ("person_id", "@normalize_text(raw_person_id)"),
        ("company_ein", "@parse_ein(raw_company_ein)"),
        ("claim_type", "@normalize_enum(raw_claim_type)"),
        ("service_date_iso", "@date_is_iso(raw_service_date)"),
        ("service_date_text", "@date_text(raw_service_date, service_date_iso)"),
        ("service_date", "@date_from_text(service_date_text, service_date_iso)"),
        # amounts in parts, each computed once (regular expressions dominate a 20 M-row day)
        ("amount_plain", "@amount_is_plain(raw_amount)"),
        ("amount_text", "@amount_text(raw_amount, amount_plain)"),
        ("is_amount_parseable", "@amount_text_is_parseable(amount_text, amount_plain)"),
        ("amount_integer", "@amount_integer(amount_text, amount_plain)"),
        ("amount_fraction", "@amount_fraction(amount_text, amount_plain)"),
        (
            "amount",
            "@amount_from_parts(amount_text, amount_integer, amount_fraction, is_amount_parseable, "
            "7, amount_plain)",
        ),
    ),
    "key": "claim_id",
    "rules": (
        ("missing_claim_id", "claim_id IS NULL"),
        ("invalid_ein", "company_ein IS NULL"),
        (
            "unknown_claim_type",
            "claim_type IS NULL OR NOT claim_type IN ('medical', 'dental', 'vision', 'pharmacy')",
        ),
        ("missing_service_date", "service_date_text IS NULL"),
        ("invalid_service_date", "service_date IS NULL"),
        ("future_service_date", "service_date > _delivery_date"),
        ("missing_amount", "amount_text IS NULL"),
        ("invalid_amount", "NOT is_amount_parseable"),
        (
            "negative_amount",
            "@amount_parts_are_negative(amount_text, amount_integer, amount_fraction)",
        ),
        ("amount_too_large", "@amount_parts_are_too_large(amount_integer, amount_fraction)"),
    ),
    "output": (
        ("claim_id", "TEXT", _KEY_COMMENT),
        ("person_id", "TEXT"),
        ("company_ein", "TEXT", _EIN_COMMENT),
        ("claim_type", "TEXT"),
        _RAW,
        ("amount", "DECIMAL(18, 2)"),
        ("service_date", "DATE"),
    ),
}

# The savings-account snapshot (SPEC §5): two full snapshots in landing/lending/, re-read by
# every run; keys are trimmed (inner whitespace kept), not text-normalised.
_LENDING_KEY_COMMENT = "trimmed business key (NULL when missing)"

LENDING_CUSTOMERS: dict = {
    "landed": "staging.stg_lending_customers__landed",
    "file": "customers.csv",
    "columns": ("customer_id", "name", "has_loan"),
    "headers": {"customer_id": "CustomerID", "name": "Name", "has_loan": "HasLoan"},
    "values": (
        ("customer_id", "@trim_text(raw_customer_id)"),
        ("name", "@normalize_text(raw_name)"),
        ("has_loan_code", "LOWER(@trim_text(raw_has_loan))"),
        (
            "has_loan",
            "CASE WHEN has_loan_code IN ('yes', 'y', 'true') THEN 'Yes' "
            "WHEN has_loan_code IN ('no', 'n', 'false') THEN 'No' "
            "WHEN has_loan_code IS NULL OR has_loan_code = 'none' THEN 'None' END",
        ),
    ),
    "key": "customer_id",
    "rules": (
        ("missing_customer_id", "customer_id IS NULL"),
        ("invalid_has_loan", "has_loan IS NULL"),
    ),
    "output": (
        ("customer_id", "TEXT", _LENDING_KEY_COMMENT),
        ("name", "TEXT", "text-normalised; may be NULL"),
        ("has_loan", "TEXT", "Yes | No | None (yes/y/true, no/n/false, none or blank; any case)"),
        _RAW,
    ),
}

LENDING_ACCOUNTS: dict = {
    "landed": "staging.stg_lending_accounts__landed",
    "file": "accounts.csv",
    "columns": ("account_id", "customer_id", "balance", "account_type"),
    "headers": {
        "account_id": "AccountID",
        "customer_id": "CustomerID",
        "balance": "Balance",
        "account_type": "AccountType",
    },
    "values": (
        ("account_id", "@trim_text(raw_account_id)"),
        ("customer_id", "@trim_text(raw_customer_id)"),
        ("account_type_code", "@normalize_enum(raw_account_type)"),
        (
            "account_type",
            "CASE account_type_code WHEN 'savings' THEN 'Savings' "
            "WHEN 'checking' THEN 'Checking' END",
        ),
        # parsed like a claim amount (SPEC §2) with no upper bound but DECIMAL(18,2)'s 16 digits
        ("balance_plain", "@amount_is_plain(raw_balance)"),
        ("balance_text", "@amount_text(raw_balance, balance_plain)"),
        ("is_balance_parseable", "@amount_text_is_parseable(balance_text, balance_plain)"),
        ("balance_integer", "@amount_integer(balance_text, balance_plain)"),
        ("balance_fraction", "@amount_fraction(balance_text, balance_plain)"),
        (
            "balance",
            "@amount_from_parts(balance_text, balance_integer, balance_fraction, "
            "is_balance_parseable, 16, balance_plain)",
        ),
    ),
    "key": "account_id",
    "rules": (
        ("missing_account_id", "account_id IS NULL"),
        ("missing_customer_id", "customer_id IS NULL"),
        ("unknown_account_type", "account_type IS NULL"),
        ("missing_balance", "balance_text IS NULL"),
        ("invalid_balance", "NOT is_balance_parseable OR balance IS NULL"),
        (
            "negative_balance",
            "@amount_parts_are_negative(balance_text, balance_integer, balance_fraction)",
        ),
        (
            "unknown_customer",
            "NOT customer_id IN (SELECT c.customer_id FROM staging.stg_lending_customers AS c)",
        ),
    ),
    "output": (
        ("account_id", "TEXT", _LENDING_KEY_COMMENT),
        ("customer_id", "TEXT", "trimmed; a staged customer when the row is staged"),
        ("account_type", "TEXT", "Savings | Checking (text-normalised, any case)"),
        _RAW,
        ("balance", "DECIMAL(18, 2)", "rounded half-up to cents; NULL when unparseable"),
    ),
}

#: The daily delivery sources (landing/<source>/<source>_YYYY-MM-DD.csv), by source name.
DAILY: dict[str, dict] = {"employees": EMPLOYEES, "plans": PLANS, "claims": CLAIMS}

#: The full snapshots of landing/lending/ (SPEC §5), by source name (as in the load accounting).
SNAPSHOTS: dict[str, dict] = {
    "lending_customers": LENDING_CUSTOMERS,
    "lending_accounts": LENDING_ACCOUNTS,
}

#: Every classified source's description, by source name.
CLASSIFICATION: dict[str, dict] = {**DAILY, **SNAPSHOTS}

#: Contract columns per daily source, in the order the staging models expose them.
COLUMNS: dict[str, tuple[str, ...]] = {
    source: description["columns"] for source, description in DAILY.items()
}

#: Business key per daily source (SPEC §2, step 2 of the order of work).
KEYS: dict[str, str] = {source: description["key"] for source, description in DAILY.items()}

#: Reject reasons per source (daily and snapshot), in rule order (the first failing rule is the
#: reason).
REJECT_REASONS: dict[str, tuple[str, ...]] = {
    source: tuple(reason for reason, _ in description["rules"])
    for source, description in CLASSIFICATION.items()
}

#: The daily sources, in contract order.
SOURCES: tuple[str, ...] = tuple(COLUMNS)

#: Every source counted in marts.fct_load_accounting, daily then snapshot.
ACCOUNTED_SOURCES: tuple[str, ...] = tuple(CLASSIFICATION)


def snapshot_headers(source: str) -> tuple[tuple[str, str], ...]:
    """(header name as matched: trimmed, lower-cased; column name) per contract column of a
    snapshot source, in contract order."""
    description = SNAPSHOTS[source]
    headers = description.get("headers", {})
    return tuple((headers.get(column, column).lower(), column) for column in description["columns"])


#: The reason of step 2 of the order of work, shared by every source.
CONFLICTING_DUPLICATE = "conflicting_duplicate"


def all_reasons() -> list[str]:
    """Every quarantine reason code, ``conflicting_duplicate`` first, each once."""
    seen: dict[str, None] = {"conflicting_duplicate": None}
    for reasons in REJECT_REASONS.values():
        seen.update(dict.fromkeys(reasons))
    return list(seen)
