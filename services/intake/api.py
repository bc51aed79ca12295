"""intake's HTTP app: the routers over the shared error handling, body limit, span and metrics."""

from fastapi import FastAPI

from services.intake.deps import IntakeDeps
from services.intake.routes import duties, hazards, help_requests, help_resolutions, incidents, rosters
from shared.http import install_common


def create_app(deps: IntakeDeps) -> FastAPI:
    app = FastAPI(
        title="antibully intake",
        version="1",
        description=(
            "The only door into antibully. Schools report incidents and follow-ups with their API key "
            "(`Authorization: Bearer ab_…`). Every 2xx means the submission is durable; errors name each "
            "field with a reason in English and Chinese."
        ),
    )
    install_common(app, deps.tracer_provider, deps.registry, deps.settings.max_body_bytes,
                   {"/v1/rosters": max(deps.settings.max_body_bytes, deps.settings.roster_max_bytes)})
    app.include_router(incidents.router(deps))
    app.include_router(hazards.router(deps))
    app.include_router(help_requests.router(deps))
    app.include_router(duties.router(deps))
    app.include_router(help_resolutions.router(deps))
    app.include_router(rosters.router(deps))
    return app
