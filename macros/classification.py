"""SPEC §2's order of work, written once: the query of every ``stg_<src>__classified`` model.

``@classify_<src>()`` renders the classification of one source from its description in
benefits_mesh/contract.py (columns, key, derived values, ordered reject rules, output columns).
One algorithm for every source, per delivery file:

1. exact duplicates: rows identical in every contract column (raw values, a blank field read as
   NULL) collapse to the first by ``_row_number``; the others are ``duplicate``;
2. distinct rows sharing a non-NULL key are ``conflicting_duplicate``;
3. every other row gets the first failing rule as its reason, or is staged.

Both windows run only over the rows whose key repeats within the file or is NULL: two identical
raw rows share their key, so every exact copy and every conflicting duplicate is among them.
Only those rows' place (file, row number) leaves the windows with their copy number and
conflict; every row then picks them up by a join on its place (1 and FALSE for a row of no
group), so the full-width rows pass through no second copy of themselves. The
(file, key) groups with more than one row are found by an aggregate over a hash of the pair
(``HASH``: 64 bits on DuckDB, 32 on Spark), then a join on it; at 20 M rows a day they are a few
per cent of the rows (DESIGN.md, Performance). A hash groups faster than the two strings; a
collision only sends the rows of a pair seen once through the windows, which partition by the
values themselves and classify them like any row (tests/test_contract_classifier.py). Each
derived value is one column of the CTE after the values it reads, so it is computed once per row.

Why one entry point per source (``@classify_claims()`` rather than ``@classify('claims')``):
SQLMesh stores the globals a macro reads in the model, by value. Reading only its own
description, a model's fingerprint changes when its own rules change, not when another source's
do (or when a source is added).
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.dialect import MacroFunc, parse_one

from benefits_mesh.contract import (
    CLAIMS,
    CONFLICTING_DUPLICATE,
    EMPLOYEES,
    LENDING_ACCOUNTS,
    LENDING_CUSTOMERS,
    PLANS,
)
from macros.cleaning import (
    amount_fraction,
    amount_from_parts,
    amount_integer,
    amount_is_plain,
    amount_parts_are_negative,
    amount_parts_are_too_large,
    amount_text,
    amount_text_is_parseable,
    blank_as_null,
    date_from_text,
    date_is_iso,
    date_text,
    normalize_email,
    normalize_enum,
    normalize_text,
    parse_date,
    parse_ein,
    trim_text,
)

#: Metadata columns a landed model carries before the contract columns, with their output types
#: (a description's ``metadata`` may leave out ``_delivery_date``).
LANDED_METADATA = {"_source_file": "TEXT", "_delivery_date": "DATE", "_row_number": "BIGINT"}

#: Names the algorithm uses for its own columns; a description may not reuse them.
RESERVED = ("copy_number", "is_conflicting", "key_hash", "reject_reason")


@macro()
def classify_employees(evaluator) -> exp.Query:
    """The classification query of staging.stg_employees__classified."""
    return classification_query(evaluator, EMPLOYEES)


@macro()
def classify_plans(evaluator) -> exp.Query:
    """The classification query of staging.stg_plans__classified."""
    return classification_query(evaluator, PLANS)


@macro()
def classify_claims(evaluator) -> exp.Query:
    """The classification query of staging.stg_claims__classified."""
    return classification_query(evaluator, CLAIMS)


@macro()
def classify_lending_customers(evaluator) -> exp.Query:
    """The classification query of staging.stg_lending_customers__classified."""
    return classification_query(evaluator, LENDING_CUSTOMERS)


@macro()
def classify_lending_accounts(evaluator) -> exp.Query:
    """The classification query of staging.stg_lending_accounts__classified."""
    return classification_query(evaluator, LENDING_ACCOUNTS)


def cleaning_macros() -> dict:
    """The macros a description may call, by name: those of macros/cleaning.py.

    Named here so SQLMesh stores them with the model (a `sqlmesh run` that does not load the
    project renders from what the model stores); a new cleaning macro, or one from another
    macros file a description needs, is imported and added here."""
    return {
        function.__name__: function
        for function in (
            normalize_text,
            trim_text,
            normalize_enum,
            normalize_email,
            parse_ein,
            parse_date,
            date_is_iso,
            date_text,
            date_from_text,
            amount_is_plain,
            amount_text,
            amount_integer,
            amount_fraction,
            amount_text_is_parseable,
            amount_parts_are_negative,
            amount_parts_are_too_large,
            amount_from_parts,
            blank_as_null,
        )
    }


def classification_query(evaluator, description: dict) -> exp.Query:
    """Render one source's classification query (see the module docstring)."""
    plan = _checked_description(description, evaluator.dialect)
    columns, key, layers = plan["columns"], description["key"], plan["layers"]
    raw = [f"raw_{column}" for column in columns]
    metadata = plan["metadata"]
    names = {*metadata, *raw, *plan["values"]}

    def expression(sql: str, alias: str) -> str:
        return _render_expression(evaluator, sql, alias, names)

    def projection(names, alias: str) -> str:
        return ", ".join(f"{alias}.{name}" for name in names)

    def key_hash(alias: str) -> str:
        return f"HASH({alias}._source_file, {alias}.{key})"

    landed = ", ".join([f"l.{name}" for name in metadata] + [f"l.{c} AS raw_{c}" for c in columns])
    carried = [*metadata, *raw, key]
    blank_raw = ", ".join(blank_as_null(evaluator, exp.column(name, "k")) for name in raw)
    ctes = [
        f"landed AS (SELECT {landed} FROM {description['landed']} AS l)",
        f"keyed AS (SELECT {projection(carried[:-1], 'l')}, "
        f"{expression(plan['values'][key], 'l')} AS {key} FROM landed AS l)",
        # hashes of (file, key) delivered more than once in the file (and of a few colliding
        # pairs, whose rows the windows below then classify like any other)
        f"repeated_keys AS (SELECT {key_hash('k')} AS key_hash FROM keyed AS k "
        f"WHERE NOT k.{key} IS NULL GROUP BY {key_hash('k')} HAVING COUNT(*) > 1)",
        # step 1: among the rows of a repeated (file, key) or without a key, rows identical in
        # every contract column (raw values) collapse: only those rows, and only their place
        f"copies AS (SELECT k._source_file, k._row_number, k.{key}, ROW_NUMBER() OVER ("
        f"PARTITION BY k._source_file, {blank_raw} ORDER BY k._row_number) AS copy_number "
        f"FROM keyed AS k LEFT JOIN repeated_keys AS r ON r.key_hash = {key_hash('k')} "
        f"WHERE NOT r.key_hash IS NULL OR k.{key} IS NULL)",
        # step 2: distinct rows (first copies) sharing a key in one file
        "duplicates AS (SELECT c._source_file, c._row_number, c.copy_number, "
        f"NOT c.{key} IS NULL AND SUM(CASE WHEN c.copy_number = 1 THEN 1 ELSE 0 END) OVER "
        f"(PARTITION BY c._source_file, c.{key}) > 1 AS is_conflicting FROM copies AS c)",
        # every row, with its copy number and conflict (a row of no group: 1, FALSE)
        f"numbered AS (SELECT {projection(carried, 'k')}, COALESCE(d.copy_number, 1) "
        "AS copy_number, COALESCE(d.is_conflicting, FALSE) AS is_conflicting FROM keyed AS k "
        "LEFT JOIN duplicates AS d ON d._source_file = k._source_file "
        "AND d._row_number = k._row_number)",
    ]
    carried += ["copy_number", "is_conflicting"]
    previous = "numbered"
    for number, layer in enumerate(layers, start=1):
        values = ", ".join(f"{expression(plan['values'][name], 'p')} AS {name}" for name in layer)
        ctes.append(
            f"derived_{number} AS (SELECT {projection(carried, 'p')}, {values} "
            f"FROM {previous} AS p)"
        )
        carried += layer
        previous = f"derived_{number}"
    # step 3: the first failing rule
    rules = " ".join(
        f"WHEN {expression(condition, 'p')} THEN '{reason}'"
        for reason, condition in description["rules"]
    )
    ctes.append(
        f"judged AS (SELECT {projection(carried, 'p')}, CASE WHEN p.copy_number > 1 THEN NULL "
        f"WHEN p.is_conflicting THEN '{CONFLICTING_DUPLICATE}' {rules} END AS reject_reason "
        f"FROM {previous} AS p)"
    )
    outputs = [
        f"j.{name}::{kind} AS {name}" + (f" /* {comment} */" if comment else "")
        for name, kind, comment in plan["output"]
    ]
    outputs += [
        "CASE WHEN j.copy_number > 1 THEN 'duplicate' WHEN j.reject_reason IS NULL "
        "THEN 'staged' ELSE 'quarantined' END::TEXT AS _row_status "
        "/* staged | duplicate | quarantined */",
        "j.reject_reason::TEXT AS _reject_reason /* SPEC §2 reason code for quarantined rows */",
        *(f"j.{name}::{LANDED_METADATA[name]} AS {name}" for name in metadata),
        "CURRENT_TIMESTAMP::TIMESTAMP AS _loaded_at",
    ]
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(outputs)} FROM judged AS j"
    return evaluator.parse_one(sql)


def _checked_description(description: dict, dialect: str) -> dict:
    """Validate a description; return its values by name, their layers and the full output list.

    A value's layer is one more than the latest layer of the values it reads (raw values and
    the key: layer 0), so each CTE computes the values whose inputs the previous ones hold."""
    columns = tuple(description["columns"])
    raw = tuple(f"raw_{column}" for column in columns)
    values = dict(description["values"])
    key = description["key"]
    if len(values) != len(description["values"]):
        raise ValueError("classification: a value name is defined twice")
    metadata = tuple(description.get("metadata", LANDED_METADATA))
    if not {"_source_file", "_row_number"} <= set(metadata) <= set(LANDED_METADATA):
        raise ValueError(f"classification: metadata {metadata} must be among {LANDED_METADATA}")
    clash = (set(LANDED_METADATA) | set(raw) | set(RESERVED)) & set(values)
    if clash:
        raise ValueError(f"classification: value names {sorted(clash)} are taken")
    if key not in values:
        raise ValueError(f"classification: the key {key!r} is not a value")
    unknown_headers = set(description.get("headers", {})) - set(columns)
    if unknown_headers:
        raise ValueError(f"classification: headers of unknown columns {sorted(unknown_headers)}")
    # the names a value or rule may read, with their layers
    layer: dict[str, int] = dict.fromkeys((*metadata, *raw), 0)
    for name, sql in description["values"]:
        reads = _names_read(sql, dialect)
        unknown = reads - set(layer) - set(values)
        if unknown:
            raise ValueError(f"classification: {name!r} reads unknown names {sorted(unknown)}")
        later = reads - set(layer)
        if later:
            raise ValueError(f"classification: {name!r} reads {sorted(later)}, defined after it")
        if name == key and reads - set(metadata) - set(raw):
            raise ValueError(f"classification: the key {key!r} must read raw values only")
        layer[name] = 0 if name == key else 1 + max((layer[r] for r in reads), default=0)
    layers = [
        [name for name, _ in description["values"] if name != key and layer[name] == depth]
        for depth in range(1, max(layer.values()) + 1)
    ]
    for reason, condition in description["rules"]:
        unknown = _names_read(condition, dialect) - set(layer)
        if unknown:
            raise ValueError(
                f"classification: rule {reason!r} reads unknown names {sorted(unknown)}"
            )
    reasons = [reason for reason, _ in description["rules"]]
    if len(set(reasons)) != len(reasons) or CONFLICTING_DUPLICATE in reasons:
        raise ValueError("classification: reject reasons must be unique")
    output = []
    for entry in description["output"]:
        name, kind, comment = (*entry, None) if len(entry) == 2 else entry
        if name == "raw_*":
            output += [(column, kind, comment if i == 0 else None) for i, column in enumerate(raw)]
        elif name in layer and name not in metadata:
            output.append((name, kind, comment))
        else:
            raise ValueError(f"classification: output {name!r} is neither a value nor raw")
    return {
        "columns": columns,
        "metadata": metadata,
        "values": values,
        "layers": layers,
        "output": output,
    }


def _names_read(sql: str, dialect: str) -> set[str]:
    """Unqualified column names an expression reads outside its sub-queries."""
    tree = parse_one(sql, dialect=dialect)
    return {
        column.name
        for column in tree.find_all(exp.Column)
        if not column.table and not _in_subquery(column, tree)
    }


def _in_subquery(node: exp.Expression, root: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None and parent is not root:
        if isinstance(parent, exp.Query):
            return True
        parent = parent.parent
    return False


def _render_expression(evaluator, sql: str, alias: str, names: set[str]) -> str:
    """A description's SQL with its columns qualified by ``alias`` and cleaning macros expanded."""
    tree = evaluator.parse_one(sql)
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.name in names and not _in_subquery(column, tree):
            column.set("table", exp.to_identifier(alias))
    return _expand_cleaning_macros(evaluator, tree).sql(dialect=evaluator.dialect)


def _expand_cleaning_macros(evaluator, tree: exp.Expression) -> exp.Expression:
    """Replace every ``@macro(...)`` of the cleaning macros by its SQL, innermost first."""
    known = cleaning_macros()

    def replace(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, MacroFunc):
            return node
        name = node.this.name.lower()
        if name not in known:
            raise ValueError(
                f"classification: @{name} is not a cleaning macro of macros/cleaning.py "
                f"(known: {', '.join(sorted(known))})"
            )
        arguments = [
            _expand_cleaning_macros(evaluator, argument) for argument in node.this.expressions
        ]
        return evaluator.parse_one(known[name](evaluator, *arguments))

    return tree.transform(replace, copy=False)
