"""The console's pages, one module per area; each has `router(deps) -> APIRouter`."""

from types import ModuleType

from services.console.pages import auth, school, school_forms, school_help

ALL: list[ModuleType] = [auth, school, school_forms, school_help]
