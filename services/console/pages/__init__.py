"""The console's pages, one module per area; each has `router(deps) -> APIRouter`."""

from types import ModuleType

from services.console.pages import acts, auth, cases, duties

ALL: list[ModuleType] = [auth, cases, acts, duties]
