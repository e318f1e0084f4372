"""The landing contract of SPEC §1–§2 as data: one place for column lists and reject reasons."""

from __future__ import annotations

#: Contract columns per source, in the order the staging models expose them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "employees": ("person_id", "full_name", "email", "title", "company_ein", "start_date", "notes"),
    "plans": ("plan_id", "company_ein", "plan_type", "carrier_name", "start_date", "end_date"),
    "claims": ("claim_id", "person_id", "company_ein", "claim_type", "service_date", "amount"),
}

#: Business key per source (SPEC §2, step 2 of the order of work).
KEYS: dict[str, str] = {"employees": "person_id", "plans": "plan_id", "claims": "claim_id"}

#: Reject reasons per source, in rule order (the first failing rule is the reason).
REJECT_REASONS: dict[str, tuple[str, ...]] = {
    "employees": ("missing_person_id", "missing_start_date", "invalid_start_date"),
    "plans": (
        "missing_plan_id",
        "invalid_ein",
        "unknown_plan_type",
        "missing_start_date",
        "invalid_start_date",
        "invalid_end_date",
        "end_before_start",
    ),
    "claims": (
        "missing_claim_id",
        "invalid_ein",
        "unknown_claim_type",
        "missing_service_date",
        "invalid_service_date",
        "future_service_date",
        "missing_amount",
        "invalid_amount",
        "negative_amount",
        "amount_too_large",
    ),
}

SOURCES: tuple[str, ...] = tuple(COLUMNS)


def all_reasons() -> list[str]:
    """Every quarantine reason code, ``conflicting_duplicate`` first, each once."""
    seen: dict[str, None] = {"conflicting_duplicate": None}
    for reasons in REJECT_REASONS.values():
        seen.update(dict.fromkeys(reasons))
    return list(seen)
