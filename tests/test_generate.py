"""The synthetic data generator: deterministic, continuable, structurally valid, dirty on purpose.

Assertions read the written files (csv module), not only the summary dict.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from benefits_mesh.contract import COLUMNS
from benefits_mesh.generate import DIRT_KINDS, deliver, generate

START = dt.date(2026, 3, 2)
SAMPLE = dict(start=START, days=30, companies=5, employees=200, claims_per_day=200, seed=7)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# ---------------------------------------------------------------------------------------------
# reading helpers


def read_file(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(raw header, data rows keyed by normalised header); blank lines are not rows."""
    text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    records = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    header, body = records[0], records[1:]
    names = [name.strip().lower() for name in header]
    return header, [dict(zip(names, row, strict=True)) for row in body]


def files(root: Path, source: str) -> list[Path]:
    return sorted((root / "landing" / source).glob(f"{source}_*.csv"))


def delivery(path: Path) -> dt.date:
    return dt.date.fromisoformat(path.stem.split("_")[1])


def all_rows(root: Path, source: str) -> list[tuple[Path, dict[str, str]]]:
    return [(path, row) for path in files(root, source) for row in read_file(path)[1]]


def parse_date(text: str | None) -> dt.date | None:
    text = (text or "").strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
            return dt.date(int(m[3]), int(m[1]), int(m[2]))
    except ValueError:
        return None
    return None


def parse_ein(text: str | None) -> str | None:
    digits = re.sub(r"[^0-9]", "", text or "")
    return f"{digits[:2]}-{digits[2:]}" if len(digits) == 9 else None


def parse_amount(text: str) -> float | None:
    text = " ".join(text.split()).removeprefix("$").replace(",", "")
    return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else None


def assert_all_seen(seen: Counter[str], expected: int) -> None:
    """Every counted feature occurred, and all ``expected`` features were counted."""
    assert len(seen) == expected and not [k for k, v in seen.items() if not v], seen


def lookup(root: Path) -> list[dict]:
    return json.loads((root / "reference" / "company_lookup.json").read_text())


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("sample")
    summary = generate(root, dirt_rate=0.05, progress=False, **SAMPLE)
    return root, summary


# ---------------------------------------------------------------------------------------------
# determinism, continuation, scale


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "generator.json"
    }


SMALL = dict(start=START, companies=3, employees=60, claims_per_day=50, dirt_rate=0.05)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    one, two, other = tmp_path / "one", tmp_path / "two", tmp_path / "other"
    generate(one, days=6, seed=11, progress=False, **SMALL)
    generate(two, days=6, seed=11, progress=False, **SMALL)
    generate(other, days=6, seed=12, progress=False, **SMALL)
    assert snapshot(one) == snapshot(two)
    assert len(snapshot(one)) > 10
    differing = [name for name, data in snapshot(one).items() if snapshot(other).get(name) != data]
    assert any("claims" in name for name in differing)
    assert any("employees" in name for name in differing)


def test_deliver_appends_exactly_what_a_longer_run_writes(tmp_path: Path) -> None:
    grown, full = tmp_path / "grown", tmp_path / "full"
    generate(grown, days=10, seed=5, history_days=3, progress=False, **SMALL)
    before = set(snapshot(grown))
    written = deliver(grown, days=2, progress=False)
    generate(full, days=12, seed=5, history_days=3, progress=False, **SMALL)
    assert snapshot(grown) == snapshot(full)
    assert {str(p.relative_to(grown)) for p in written} == set(snapshot(full)) - before
    assert all(delivery(p) >= START + dt.timedelta(days=10) for p in written)
    state = json.loads((grown / "generator.json").read_text())
    assert state["days"] == 12 and state["last_day"] == "2026-03-13"


def test_claims_per_day_sets_the_record_count_and_scales(tmp_path: Path) -> None:
    """200,000 claims in one day's file (the generator's speed is a figure of
    `benefits-mesh bench`, not asserted here)."""
    summary = generate(tmp_path, START, 1, 3, 100, 200_000, seed=1, dirt_rate=0.02, progress=False)
    (path,) = files(tmp_path, "claims")
    text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    records = [line for line in text.splitlines() if line.strip()]
    assert len(records) - 1 == 200_000 == summary["rows"]["claims"]


def test_progress_goes_to_stderr_only_when_asked(tmp_path: Path, capsys) -> None:
    generate(tmp_path / "quiet", days=2, seed=1, progress=False, **SMALL)
    assert capsys.readouterr() == ("", "")
    generate(tmp_path / "loud", days=2, seed=1, progress=True, **SMALL)
    out, err = capsys.readouterr()
    assert out == "" and "[claims]" in err and "[employees]" in err


# ---------------------------------------------------------------------------------------------
# structure: every file is a valid contract CSV


def test_every_file_is_valid_utf8_csv_with_the_contract_columns(sample) -> None:
    root, summary = sample
    count = 0
    for source, columns in COLUMNS.items():
        for path in files(root, source):
            data = path.read_bytes()
            text = data.decode("utf-8").removeprefix("\ufeff")  # raises if not UTF-8
            records = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
            assert len({len(r) for r in records}) == 1, path
            header = [name.strip().lower() for name in records[0]]
            assert set(columns) <= set(header), path
            assert len(header) == len(set(header)), path
            count += 1
    assert count == sum(summary["files"].values())
    entries = lookup(root)
    assert len(entries) == SAMPLE["companies"]
    for entry in entries:
        assert re.fullmatch(r"\d{2}-\d{7}", entry["ein"])
        assert entry["domains"] and all(d == d.lower() for d in entry["domains"])
        assert entry["state"] is None or re.fullmatch(r"[A-Z]{2}", entry["state"])
        assert entry["expected_headcount"] is None or isinstance(entry["expected_headcount"], int)


def test_summary_counts_every_dirt_kind(sample) -> None:
    _, summary = sample
    assert set(summary["dirt"]) == set(DIRT_KINDS)
    assert [kind for kind, count in summary["dirt"].items() if not count] == []
    assert summary["rows"]["claims"] == 200 * 29  # one gap day (day 10)


@pytest.mark.parametrize("start", [dt.date(2026, 3, 6), dt.date(2026, 3, 7)])  # Fri, Sat
def test_every_kind_even_in_a_minimal_dirty_run(tmp_path: Path, start: dt.date) -> None:
    summary = generate(tmp_path, start, 5, 3, 50, 20, seed=4, dirt_rate=0.01, progress=False)
    assert [kind for kind, count in summary["dirt"].items() if not count] == []


def test_a_clean_run_has_realism_but_no_dirt(tmp_path: Path) -> None:
    summary = generate(tmp_path, START, 10, 4, 100, 100, seed=4, dirt_rate=0.0, progress=False)
    realism = {"correction", "late_claim", "carrier_variant", "terminated_key_notes"}
    realism |= {"terminated_phrase_notes", "plan_overlap", "plan_gap", "plan_open_ended"}
    assert all(summary["dirt"][kind] for kind in realism), summary["dirt"]
    for kind in ("bad_ein", "missing_key", "exact_duplicate", "amount_invalid", "bom", "crlf"):
        assert summary["dirt"][kind] == 0, kind


def test_schedules_vary_by_source(sample) -> None:
    root, summary = sample
    assert summary["files"]["claims"] == 29
    assert 10 <= summary["files"]["employees"] < 30
    assert 4 <= summary["files"]["plans"] < 15
    day0 = START.isoformat()
    for source in COLUMNS:
        assert files(root, source)[0].name == f"{source}_{day0}.csv"
    roster = read_file(files(root, "employees")[0])[1]
    assert len({r["person_id"] for r in roster if r["person_id"].strip()}) >= 200


# ---------------------------------------------------------------------------------------------
# file-level dirt


def test_file_level_dirt_is_in_the_files(sample) -> None:
    root, _ = sample
    found: Counter[str] = Counter()
    for source, columns in COLUMNS.items():
        for path in files(root, source):
            data = path.read_bytes()
            header = read_file(path)[0]
            names = [name.strip().lower() for name in header]
            found["bom"] += data.startswith(b"\xef\xbb\xbf")
            found["crlf"] += b"\r\n" in data
            found["lf_only"] += b"\r\n" not in data
            found["reordered"] += [n for n in names if n in columns] != list(columns)
            found["header_variant"] += any(raw != raw.strip().lower() for raw in header)
            found["extra_column"] += len(names) > len(columns)
            found["blank_lines"] += bool(re.search(rb"\n\r?\n.", data))
    assert all(found[kind] for kind in found), found
    assert set(found) == {
        "bom",
        "crlf",
        "lf_only",
        "reordered",
        "header_variant",
        "extra_column",
        "blank_lines",
    }


def test_duplicates_and_missing_keys_in_every_source(sample) -> None:
    root, _ = sample
    for source, columns in COLUMNS.items():
        exact = conflicting = missing = 0
        for path in files(root, source):
            rows = [tuple(row[c] for c in columns) for row in read_file(path)[1]]
            exact += len(rows) - len(set(rows))
            by_key = defaultdict(set)
            for row in set(rows):
                if row[0].strip():
                    by_key[row[0].strip()].add(row)
                else:
                    missing += 1
            conflicting += sum(len(group) > 1 for group in by_key.values())
        assert exact and conflicting and missing, (source, exact, conflicting, missing)


# ---------------------------------------------------------------------------------------------
# employees


def test_employee_dirt(sample) -> None:
    root, _ = sample
    domains = {d for entry in lookup(root) for d in entry["domains"]}
    rows = [row for _, row in all_rows(root, "employees")]
    seen: Counter[str] = Counter()
    for row in rows:
        ein, notes, email = row["company_ein"], row["notes"], row["email"]
        clean_email = email.strip().lower()
        domain = clean_email.rsplit("@", 1)[-1]
        notes_ein = re.search(r"(?i)\bein\s*[:=]", notes)
        seen["bad_ein"] += bool(ein.strip()) and parse_ein(ein) is None
        seen["ein_variant"] += bool(re.fullmatch(r"\d{9}|EIN: \d{2}-\d{7}", ein.strip()))
        seen["ein_in_notes"] += not ein.strip() and bool(notes_ein)
        seen["ein_from_email"] += (
            not ein.strip() and not notes_ein and bool(EMAIL.match(clean_email))
        ) and domain in domains
        seen["email_subdomain"] += any(domain.endswith("." + d) for d in domains)
        seen["invalid_email"] += not EMAIL.match(clean_email)
        seen["email_case_space"] += email != email.strip() and email.strip() != clean_email
        seen["terminated_key"] += bool(re.search(r"(?i)status\s*[:=]\s*terminated", notes))
        seen["terminated_phrase"] += bool(re.search(r"(?i)(^|[;|]\s*)terminated \d", notes))
        seen["term_date_key"] += bool(re.search(r"(?i)term_date\s*[:=]", notes))
        seen["mixed_case_key"] += bool(
            re.search(r"(DEPT|Dept|STATUS|Status|EIN|Ein)\s*[:=]", notes)
        )
        seen["pipe_separated"] += "|" in notes
        seen["leave"] += bool(re.search(r"(?i)status\s*[:=]\s*leave", notes))
        seen["us_date"] += bool(re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", row["start_date"]))
        seen["bad_date"] += (
            bool(row["start_date"].strip()) and parse_date(row["start_date"]) is None
        )
        seen["missing_date"] += not row["start_date"].strip()
        seen["quoted_comma"] += "," in row["full_name"]
        seen["whitespace_only"] += any(v and not v.strip() for v in row.values())
        seen["non_ascii"] += any(ord(ch) > 127 for ch in row["full_name"])
    assert_all_seen(seen, 19)


def spec_roster(root: Path) -> dict[str, tuple[str, str]]:
    """SPEC §2 employees + §3 roster mismatches, re-implemented from the files (reference)."""
    companies = {e["ein"]: e for e in lookup(root)}
    owner = {d: e["ein"] for e in companies.values() for d in e["domains"]}
    current: dict[str, tuple[dict[str, str], dt.date]] = {}
    paths = files(root, "employees")
    for path in paths:
        rows = read_file(path)[1]
        unique = list(dict.fromkeys(tuple(sorted(r.items())) for r in rows))
        keys = Counter(dict(r)["person_id"].strip() for r in unique)
        for raw in unique:
            row = dict(raw)
            pid = row["person_id"].strip()
            if not pid or keys[pid] > 1 or parse_date(row["start_date"]) is None:
                continue
            current[pid] = (row, delivery(path))
    as_of = delivery(paths[-1])
    observed: Counter[str | None] = Counter()
    resolved_eins: set[str] = set()
    for row, delivered in current.values():
        fields: dict[str, str] = {}
        for part in re.split(r"[;|]", row["notes"]):
            if m := re.fullmatch(r"\s*([A-Za-z_]+)\s*[:=]\s*(.*?)\s*", part):
                fields.setdefault(m[1].lower(), m[2])
        status = fields.get("status", "").lower()
        term = parse_date(fields.get("term_date"))
        phrase = re.search(r"(?i)terminated\s+(\S+)", row["notes"])
        if phrase and parse_date(phrase[1]):
            status = "terminated"
            term = term or parse_date(phrase[1])
        if status == "terminated" and term is None:
            term = delivered
        email = row["email"].strip().lower()
        ein = (
            parse_ein(row["company_ein"])
            or parse_ein(fields.get("ein"))
            or (owner.get(email.rsplit("@", 1)[-1]) if EMAIL.match(email) else None)
        )
        if ein:
            resolved_eins.add(ein)
        start = parse_date(row["start_date"])
        if start and start <= as_of and not (term and term <= as_of):
            observed[ein] += 1
    result = {}
    for ein in set(companies) | resolved_eins:
        expected = companies.get(ein, {}).get("expected_headcount")
        seen = observed[ein]
        if ein not in companies:
            result[ein] = ("unknown_company", "high")
        elif expected is None:
            result[ein] = ("no_expectation", "low")
        elif expected == 0:
            result[ein] = ("ok", "none") if seen == 0 else ("headcount_mismatch", "critical")
        elif seen == 0:
            result[ein] = ("missing_roster", "critical")
        else:
            pct = abs(seen - expected) / expected * 100
            severity = next(
                (
                    s
                    for limit, s in ((50, "critical"), (25, "high"), (10, "medium"))
                    if pct >= limit
                ),
                None,
            )
            result[ein] = ("headcount_mismatch", severity) if severity else ("ok", "none")
    return result


def test_roster_hits_every_severity(tmp_path: Path) -> None:
    generate(tmp_path, START, 20, 10, 500, 20, seed=3, dirt_rate=0.02, progress=False)
    roster = spec_roster(tmp_path)
    outcomes = set(roster.values())
    for outcome in [
        ("ok", "none"),
        ("headcount_mismatch", "medium"),
        ("headcount_mismatch", "high"),
        ("headcount_mismatch", "critical"),
        ("missing_roster", "critical"),
        ("no_expectation", "low"),
        ("unknown_company", "high"),
    ]:
        assert outcome in outcomes, (outcome, roster)
    assert any(e["expected_headcount"] == 0 for e in lookup(tmp_path))


# ---------------------------------------------------------------------------------------------
# plans


def intervals(rows: list[dict[str, str]]) -> dict[tuple[str, str], list[tuple]]:
    """Latest valid version per plan_id, grouped by (company, plan type)."""
    latest: dict[str, dict[str, str]] = {}
    for row in rows:
        start, end = parse_date(row["start_date"]), parse_date(row["end_date"])
        if row["plan_id"].strip() and start and (end or not row["end_date"].strip()):
            if (end is None or end >= start) and parse_ein(row["company_ein"]):
                latest[row["plan_id"].strip()] = row
    groups = defaultdict(list)
    for row in latest.values():
        key = (parse_ein(row["company_ein"]), row["plan_type"].strip().lower())
        groups[key].append((parse_date(row["start_date"]), parse_date(row["end_date"])))
    return {key: sorted(group, key=lambda i: i[0]) for key, group in groups.items()}


def test_plan_structure_and_dirt(sample) -> None:
    root, _ = sample
    rows = [row for _, row in all_rows(root, "plans")]
    seen: Counter[str] = Counter()
    for group in intervals(rows).values():
        for (s1, e1), (s2, e2) in zip(group, group[1:], strict=False):
            if e1 is None:
                seen["open_ended"] += 1
                continue
            seen["overlap"] += s2 <= e1
            seen["adjacent"] += s2 == e1 + dt.timedelta(days=1)
            seen["one_day_gap"] += s2 == e1 + dt.timedelta(days=2)
            seen["gap"] += s2 > e1 + dt.timedelta(days=2)
            seen["nested"] += e2 is not None and s1 < s2 and e2 < e1
        seen["open_ended"] += group[-1][1] is None
    by_id = defaultdict(list)
    for path, row in all_rows(root, "plans"):
        if parse_date(row["end_date"]) or not row["end_date"].strip():
            by_id[row["plan_id"].strip()].append((delivery(path), row["end_date"].strip()))
    seen["resend_new_end"] += any(
        len({d for d, _ in sends}) > 1 and len({e for _, e in sends}) > 1
        for sends in by_id.values()
    )
    carriers = Counter(row["carrier_name"] for row in rows)
    seen["carrier_variants"] += sum(
        1 for c in carriers if c.strip() and c != c.strip().title() and c not in ("VSP", "EyeMed")
    )
    for row in rows:
        ptype, start, end = row["plan_type"], row["start_date"], row["end_date"]
        seen["type_variant"] += ptype != ptype.strip().lower() and ptype.strip().lower() in (
            "medical",
            "dental",
            "vision",
        )
        seen["unknown_type"] += ptype.strip().lower() not in ("medical", "dental", "vision")
        seen["end_before_start"] += bool(
            parse_date(start) and parse_date(end) and parse_date(end) < parse_date(start)
        )
        seen["bad_end_date"] += bool(end.strip()) and parse_date(end) is None
        seen["bad_ein"] += parse_ein(row["company_ein"]) is None
        seen["null_carrier"] += not row["carrier_name"].strip()
    assert {"AETNA INC.", "Cigna, Inc."} & set(carriers) or len(carriers) > 10
    assert_all_seen(seen, 14)


# ---------------------------------------------------------------------------------------------
# claims


def test_claim_dirt(sample) -> None:
    root, _ = sample
    seen: Counter[str] = Counter()
    first_seen: dict[str, tuple[dt.date, tuple]] = {}
    raw = b"".join(path.read_bytes() for path in files(root, "claims"))
    for path in files(root, "claims"):
        day = delivery(path)
        for row in read_file(path)[1]:
            values = tuple(row[c] for c in COLUMNS["claims"])
            claim_id, amount, service = row["claim_id"].strip(), row["amount"], row["service_date"]
            date = parse_date(service)
            if date:
                seen["late_31_60"] += 31 <= (day - date).days <= 60
                seen["on_time"] += 0 <= (day - date).days <= 30
                seen["future"] += date > day
            seen["us_date"] += bool(re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", service))
            for form, pattern in [
                ("slashes", r"\d{4}/\d{2}/\d{2}"),
                ("day_first", r"(1[3-9]|2\d|3[01])/\d{2}/\d{4}"),
                ("compact", r"\d{8}"),
                ("feb30", r"\d{4}-02-30"),
                ("timestamp", r"\d{4}-\d{2}-\d{2} 10:00:00"),
            ]:
                seen[form] += bool(re.fullmatch(pattern, service))
            seen["missing_date"] += not service.strip()
            for name, pattern in [
                ("dollar_comma", r"\$\d{1,3}(,\d{3})+\.\d{2}"),
                ("three_decimals", r"\d+\.\d{3}"),
                ("parens", r"\(\d+\.\d{2}\)"),
                ("exponent", r"1e3"),
                ("negative", r"-\d+\.\d{2}"),
                ("dollar_negative", r"\$-5"),
                ("leading_dot", r"\.5"),
                ("two_dots", r"12\.34\.56"),
                ("max_ok", r"\$?1000000\.00"),
                ("too_large", r"1000000\.01|2500000\.00|\$1,000,000\.01"),
                ("missing_amount", r""),
            ]:
                seen[name] += bool(re.fullmatch(pattern, amount))
            ein = row["company_ein"]
            seen["ein_digits_only"] += bool(re.fullmatch(r"\d{9}", ein))
            seen["ein_prefixed"] += ein.startswith("EIN: ")
            seen["bad_ein"] += parse_ein(ein) is None
            ctype = row["claim_type"]
            known = ("medical", "dental", "vision", "pharmacy")
            seen["type_variant"] += (
                ctype != ctype.strip().lower() and ctype.strip().lower() in known
            )
            seen["unknown_type"] += ctype.strip().lower() not in known
            seen["whitespace_person"] += bool(row["person_id"]) and not row["person_id"].strip()
            seen["missing_key"] += not claim_id
            if claim_id and claim_id in first_seen and first_seen[claim_id][0] < day:
                seen["correction"] += first_seen[claim_id][1] != values
            elif claim_id:
                first_seen.setdefault(claim_id, (day, values))
    seen["quoted_comma"] += b'"$' in raw
    assert_all_seen(seen, 30)
    assert seen["late_31_60"] < seen["on_time"] / 10


def test_claims_refer_to_roster_persons_and_their_companies(sample) -> None:
    root, _ = sample
    roster = read_file(files(root, "employees")[0])[1]
    persons = {r["person_id"] for r in roster}
    rows = [row for _, row in all_rows(root, "claims") if row["person_id"].strip()]
    assert sum(row["person_id"] in persons for row in rows) / len(rows) > 0.95
    eins = {parse_ein(e["ein"]) for e in lookup(root)}
    claim_eins = Counter(parse_ein(row["company_ein"]) for row in rows)
    assert eins & set(claim_eins)
    assert set(claim_eins) - eins - {None}, "claims of persons at companies outside the lookup"


def daily_cost(root: Path) -> dict[str, dict[dt.date, float]]:
    """Current version of every valid claim (latest delivery wins), summed per company and day."""
    latest: dict[str, tuple[str, dt.date, float]] = {}
    for path in files(root, "claims"):
        rows = read_file(path)[1]
        keys = Counter(r["claim_id"].strip() for r in {tuple(r.items()): r for r in rows}.values())
        for row in rows:
            claim_id, ein = row["claim_id"].strip(), parse_ein(row["company_ein"])
            date, amount = parse_date(row["service_date"]), parse_amount(row["amount"])
            if claim_id and keys[claim_id] == 1 and ein and date and amount is not None:
                if date <= delivery(path) and 0 <= amount <= 1_000_000:
                    latest[claim_id] = (ein, date, amount)
    cost: dict[str, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    for ein, date, amount in latest.values():
        cost[ein][date] += amount
    return cost


def test_history_backfill_and_a_90_day_cost_spike(tmp_path: Path) -> None:
    n, history = 150, 200
    generate(tmp_path, START, 8, 6, 120, n, seed=2, dirt_rate=0.01, history_days=history,
             progress=False)  # fmt: skip
    first = read_file(files(tmp_path, "claims")[0])[1]
    assert len(first) == n * (1 + history)
    per_day = Counter(parse_date(r["service_date"]) for r in first)
    history_days = [START - dt.timedelta(days=d) for d in range(31, history + 1)]
    densities = [per_day[d] for d in history_days]
    assert min(densities) > n * 0.7 and max(densities) < n * 1.3
    cost = daily_cost(tmp_path)
    last = max(d for days in cost.values() for d in days)
    spikes = []
    for ein, days in cost.items():
        first_day = min(days)
        end = first_day + dt.timedelta(days=179)
        while end <= last:
            current = sum(days.get(end - dt.timedelta(days=i), 0) for i in range(90))
            prior = sum(days.get(end - dt.timedelta(days=i), 0) for i in range(90, 180))
            if prior > 0 and current > 3 * prior:
                spikes.append((ein, end))
            end += dt.timedelta(days=1)
    assert spikes, "no company shows a 90-day cost spike"
    assert len({ein for ein, _ in spikes}) < len(cost)
