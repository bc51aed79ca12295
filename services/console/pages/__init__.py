"""The console's pages, one module per area; each has `router(deps) -> APIRouter`."""

from types import ModuleType

from services.console.pages import (
    accounts,
    acts,
    auth,
    campaigns,
    cases,
    disclosures,
    duties,
    ledger,
    public,
    school,
    school_forms,
    school_help,
    school_trainings,
    screening,
    summaries,
)

ALL: list[ModuleType] = [auth, public, cases, acts, duties, ledger, accounts, school, school_forms, school_help,
                         disclosures, school_trainings, campaigns, screening,
                         summaries]
