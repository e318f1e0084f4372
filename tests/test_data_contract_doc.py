"""docs/data-contract.md stays in step with the code it documents.

- every source's contract columns (``benefits_mesh.contract.COLUMNS``) are the rows of the
  columns table under the source's heading, in contract order, and its business key (``KEYS``)
  is the one the section names;
- every source's reject reasons (``REJECT_REASONS``) are the rows of the reasons table under the
  source's heading, in rule order;
- the reason columns of ``marts.fct_load_accounting`` are listed in the order of
  ``all_reasons()``;
- every mart model under models/marts has a ``### marts.<name>`` section whose columns table
  lists exactly the model's output columns (or, for a ``SELECT *`` model, at least the columns
  of its ``column_descriptions``), and the doc documents no mart that does not exist;
- README.md and docs/ link to nothing outside the project (no ``../shared``) and every relative
  link in them points at a file of the project.

Exact list comparisons: a column or reason added to, removed from or moved in contract.py (or a
mart column changed) without the doc following fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlglot import exp
from sqlmesh.core.dialect import parse

from benefits_mesh.contract import COLUMNS, KEYS, REJECT_REASONS, SOURCES, all_reasons

PROJECT = Path(__file__).resolve().parent.parent
DOC = PROJECT / "docs" / "data-contract.md"
MARTS_DIR = PROJECT / "models" / "marts"


def _doc() -> str:
    assert DOC.is_file(), f"{DOC.relative_to(PROJECT)} is missing"
    return DOC.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """The body under the markdown heading whose text is exactly ``heading`` (any level), up to
    the next heading of the same or a higher level."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if match and match[2].strip("`") == heading:
            level = len(match[1])
            body = []
            for following in lines[index + 1 :]:
                nxt = re.match(r"^(#{1,6})\s", following)
                if nxt and len(nxt[1]) <= level:
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError(f"{DOC.name}: no heading {heading!r}")


def _cells(line: str) -> list[str]:
    # split on | that is not escaped as \|
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _tables(body: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table of ``body`` as (header cells, body rows)."""
    tables = []
    block: list[str] = []
    for line in [*body.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2 and re.fullmatch(r"[\s|:-]+", block[1]):
            tables.append((_cells(block[0]), [_cells(row) for row in block[2:]]))
        block = []
    return tables


def _table_column(body: str, header: str, where: str) -> list[str]:
    """The backquoted names in column ``header`` of the one table of ``body`` that has it."""
    found = [(head, rows) for head, rows in _tables(body) if header in head]
    assert len(found) == 1, (
        f"{where}: expected one table with a {header!r} column, found {len(found)}"
    )
    head, rows = found[0]
    position = head.index(header)
    names = []
    for row in rows:
        match = re.fullmatch(r"`([^`]+)`", row[position])
        if match:  # rows such as "one column per reject reason" name no single column
            names.append(match[1])
    return names


def _mart_models() -> dict[str, tuple[list[str] | None, list[str]]]:
    """marts.<name> -> (output column names, or None for a SELECT *; column_descriptions keys)."""
    models = {}
    for path in sorted(MARTS_DIR.glob("*.sql")):
        expressions = parse(path.read_text(encoding="utf-8"), default_dialect="duckdb")
        properties = {p.name.lower(): p for p in expressions[0].expressions}
        name = properties["name"].args["value"].sql(dialect="duckdb")
        described = properties.get("column_descriptions")
        descriptions = (
            [item.this.name for item in described.args["value"].expressions] if described else []
        )
        query = next(e for e in expressions[1:] if isinstance(e, exp.Query))
        star = any(isinstance(p, exp.Star) or p.is_star for p in query.selects)
        models[name] = (None if star else list(query.named_selects), descriptions)
    return models


MARTS = _mart_models()


def test_every_mart_file_was_read() -> None:
    assert len(MARTS) == len(list(MARTS_DIR.glob("*.sql"))) > 0
    assert all(name.startswith("marts.") for name in MARTS)


@pytest.mark.parametrize("source", SOURCES)
def test_source_columns_in_contract_order(source: str) -> None:
    body = _section(_doc(), source)
    documented = _table_column(body, "column", f"section {source!r}")
    assert documented == list(COLUMNS[source]), (
        f"{DOC.name}, section {source!r}: the columns table must list contract.COLUMNS"
        f"[{source!r}] in order"
    )


@pytest.mark.parametrize("source", SOURCES)
def test_source_business_key(source: str) -> None:
    body = _section(_doc(), source)
    match = re.search(r"^Business key: `([^`]+)`", body, re.MULTILINE)
    assert match, f"{DOC.name}, section {source!r}: no 'Business key: `...`' line"
    assert match[1] == KEYS[source]


@pytest.mark.parametrize("source", SOURCES)
def test_source_reject_reasons_in_rule_order(source: str) -> None:
    body = _section(_doc(), source)
    documented = _table_column(body, "reason", f"section {source!r}")
    assert documented == list(REJECT_REASONS[source]), (
        f"{DOC.name}, section {source!r}: the reasons table must list contract.REJECT_REASONS"
        f"[{source!r}] in rule order"
    )


def test_order_of_work_names_conflicting_duplicate() -> None:
    body = _section(_doc(), "What happens to each row")
    assert "`conflicting_duplicate`" in body


def test_load_accounting_reason_columns_in_order() -> None:
    body = _section(_doc(), "marts.fct_load_accounting")
    match = re.search(r"^Reason columns, in this order:(.*?)(?:\n\n|\Z)", body, re.M | re.S)
    assert match, f"{DOC.name}: marts.fct_load_accounting has no 'Reason columns, in this order:'"
    assert re.findall(r"`([^`]+)`", match[1]) == all_reasons()


@pytest.mark.parametrize("mart", sorted(MARTS))
def test_mart_section_and_columns(mart: str) -> None:
    body = _section(_doc(), mart)
    documented = _table_column(body, "column", f"section {mart!r}")
    columns, descriptions = MARTS[mart]
    assert len(documented) == len(set(documented)), f"{mart}: a column is listed twice"
    if columns is not None:
        assert sorted(documented) == sorted(columns), (
            f"{DOC.name}, section {mart!r}: the columns table must list the model's columns"
        )
    else:
        missing = [c for c in descriptions if c not in documented]
        assert not missing, f"{DOC.name}, section {mart!r}: undocumented column(s) {missing}"


def test_doc_documents_no_other_mart() -> None:
    headed = set(re.findall(r"^#{1,6}\s+`?(marts\.\w+)`?\s*$", _doc(), re.MULTILINE))
    assert headed == set(MARTS), f"mart sections without a model: {sorted(headed - set(MARTS))}"


def _link_files() -> list[Path]:
    top = [PROJECT / name for name in ("README.md", "DESIGN.md", "BENCHMARKS.md")]
    return [*top, PROJECT / "models" / "README.md", *sorted((PROJECT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("path", _link_files(), ids=lambda p: str(p.relative_to(PROJECT)))
def test_no_link_outside_the_project(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    hits = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if "../shared" in line
    ]
    assert not hits, f"{path.name} points at ../shared, which a fresh clone lacks: {hits}"
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", target), (
            f"{path.name}: links outside the repository ({target}); the docs stand alone"
        )
        if target.startswith("#"):
            continue  # an anchor in the same file
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(PROJECT), f"{path.name}: {target} leaves the project"
        assert resolved.exists(), f"{path.name}: {target} does not exist"
