"""The web application: ``create_app()`` builds FastAPI with the JSON API under /api/v1."""

from __future__ import annotations

from fastapi import FastAPI

from api.pages import router as pages_router
from api.problems import install_problem_handlers
from api.routes import (
    admin,
    auth,
    gates,
    imports,
    instruments,
    organisation,
    plans,
    processes,
    roster,
    survey_results,
    tasks,
)
from api.routes.exports import router as exports_router
from api.routes.followup import router as followup_router
from api.routing import public_router
from api.security.headers import BodyLimitMiddleware, SecurityHeadersMiddleware
from api.security.oidc import install_oidc
from chefoskop.settings import Settings, get_settings
from models.schemas.common import Health

API_PREFIX = "/api/v1"
MULTIPART_ALLOWANCE = 200_000  # form fields and boundaries around the uploaded files

health_router = public_router("meta")


@health_router.get("/health", response_model=Health)
def health() -> Health:
    """The service is up."""
    return Health()


def _problem_media_types(app: FastAPI) -> None:
    """Document error responses as application/problem+json only (as they are sent)."""
    build = app.openapi

    def openapi() -> dict:
        """The OpenAPI document, built once."""
        if app.openapi_schema is None:
            schema = build()
            for operations in schema["paths"].values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[0] in "45" and "application/json" in content:
                            content["application/problem+json"] = content.pop("application/json")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application with its routes, error handlers and security middleware."""
    settings = settings or get_settings()
    app = FastAPI(title="Chefoskop", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json",
                  description="The process engine for Chefoskopet. Errors are RFC 9457 problems.")
    app.state.settings = settings
    install_problem_handlers(app)
    for module in (auth, organisation, processes, roster, tasks, gates, plans, admin, imports,
                   instruments, survey_results):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(followup_router, prefix=API_PREFIX)
    app.include_router(exports_router, prefix=API_PREFIX)
    app.include_router(auth.signed_in, prefix=API_PREFIX)
    app.include_router(health_router, prefix=API_PREFIX)
    app.include_router(auth.links)
    app.include_router(pages_router)
    install_oidc(app, settings)
    _problem_media_types(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=3 * settings.upload_max_bytes + MULTIPART_ALLOWANCE)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.environment == "production")
    return app
