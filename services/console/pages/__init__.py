"""The console's pages, one module per area; each has `router(deps) -> APIRouter`."""

from types import ModuleType

from services.console.pages import auth, public

ALL: list[ModuleType] = [auth, public]
