"""The console's pages, one module per area; each has `router(deps) -> APIRouter`."""

from types import ModuleType

from services.console.pages import accounts, auth, ledger

ALL: list[ModuleType] = [auth, ledger, accounts]
