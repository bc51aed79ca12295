"""Archive's read API: officials log in, list the cases within their authority, read a case's record;
the bureau reads who read what; schools and the bureau read the ledger (台账). Every read states a purpose
and is logged."""

from __future__ import annotations

from fastapi import FastAPI

from services.archive.deps import ArchiveDeps
from services.archive.routes import (
    access_log,
    accounts,
    acts,
    auth,
    campaigns,
    cases,
    disclosures,
    duties,
    ledger,
    letters,
    lookbacks,
    official_acts,
    screening,
    summaries,
    trainings,
)
from shared.http import install_common

__all__ = ["ArchiveDeps", "create_app"]


def create_app(deps: ArchiveDeps) -> FastAPI:
    app = FastAPI(title="antibully archive", version="2",
                  description="The special records of bullying cases, for officials within their authority.")
    install_common(app, deps.tracer_provider, deps.registry, 128 * 1024)  # a look-back list of 500 schools
    app.include_router(auth.router(deps))
    app.include_router(accounts.router(deps))
    app.include_router(cases.router(deps))
    app.include_router(access_log.router(deps))
    app.include_router(acts.router(deps))
    app.include_router(official_acts.router(deps))
    app.include_router(ledger.router(deps))
    app.include_router(duties.router(deps))
    app.include_router(lookbacks.router(deps))
    app.include_router(letters.router(deps))
    app.include_router(disclosures.router(deps))
    app.include_router(trainings.router(deps))
    app.include_router(campaigns.router(deps))
    app.include_router(screening.router(deps))
    app.include_router(summaries.router(deps))
    return app
