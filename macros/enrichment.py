"""The company enrichment step (SPEC §6): a before_all statement of every plan and run.

The work is in benefits_mesh.enrichment, imported when the statement runs (not serialised into
SQLMesh's state): with ``BENEFITS_ENRICHMENT=http`` it requests the companies that are due and
writes ``ops.company_enrichment``; with ``file`` it only makes sure the cache table exists (the
views read it). A 401/403 raises and stops the command before any model is evaluated; any other
failure is recorded per company and never fails the run.
"""

from __future__ import annotations

from sqlmesh import macro


@macro()
def enrich_companies(evaluator):
    """Refresh the enrichment cache; returns its (idempotent) DDL for SQLMesh to execute."""
    from benefits_mesh import enrichment
    from benefits_mesh.settings import enrichment_provider, enrichment_settings

    statements = enrichment.ddl()
    if evaluator.runtime_stage == "loading" or "engine_adapter" not in evaluator.locals:
        return statements
    if enrichment_provider() != "http":
        return statements
    from benefits_mesh.landing import company_lookup_rows
    from benefits_mesh.sqlmesh_api import console as sqlmesh_console

    adapter = evaluator.locals["engine_adapter"]
    environment = evaluator.locals.get("this_env") or "prod"
    eins = {enrichment.canonical_ein(c["ein"]) for c in company_lookup_rows()}
    from benefits_mesh.warehouse import schema_for

    schema, name = schema_for("intermediate", environment), "int_companies"
    view = f"{schema}.{name}"
    # EINs seen on current employees, plans and claims (previous runs' data)
    if adapter.table_exists(view):
        eins.update(ein for (ein,) in adapter.fetchall(f"SELECT company_ein FROM {view}") if ein)
    from rich.markup import escape

    console = sqlmesh_console()
    try:
        enrichment.refresh(
            adapter,
            sorted(e for e in eins if e),
            enrichment_settings(),
            lambda message: console.log_status_update(escape(message)),
        )
    except enrichment.EnrichmentAuthError as error:  # before any model: nothing published
        from benefits_mesh.runtime import fail

        fail(error)
    return statements
