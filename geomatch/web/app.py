"""The review web application (FastAPI): server-rendered pages for offender managers, a JSON API for scripts.

Build it with :func:`create_app` and serve it with uvicorn (``geomatch serve``). Every response carries a strict
Content-Security-Policy (scripts and styles only from the app itself: htmx is vendored under ``static/``),
no caching of personal data, and no referrer to other sites.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from geomatch.core.errors import InputError
from geomatch.core.version import __version__
from geomatch.store.engine import get_engine
from geomatch.web.auth import LoginRequired
from geomatch.web.settings import WebSettings

HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'")


def create_app(settings: WebSettings) -> FastAPI:
    """The application for ``settings`` (the store is opened, and its schema migrated, here)."""
    from geomatch.web import api, pages
    from geomatch.web.templates_env import make_templates

    get_engine(settings.db_url)
    app = FastAPI(title="geomatch review", version=__version__, docs_url=None, redoc_url=None,
                  description="Review the hits of GPS trail crime matching: the queue, a hit, recording outcomes, "
                              "the access log. Authenticate with `Authorization: Bearer TOKEN` "
                              "(`geomatch users token NAME`).")
    app.state.settings = settings
    app.state.templates = make_templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.service)
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, error: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(error)}, 401, headers={"WWW-Authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", 303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)
        return app.state.templates.TemplateResponse(request, "error.html", {"status": error.status_code,
                                                                            "message": error.detail},
                                                    status_code=error.status_code)

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError) -> Response:
        return await http_error(request, HTTPException(400, error.sentence()))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in error.errors())
        status = 422 if _wants_json(request) else 400
        return await http_error(request, HTTPException(status, problems or "the request is not valid"))

    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def app_from_environment() -> FastAPI:
    """The application for the settings its parent put in ``$GEOMATCH_WEB_SETTINGS`` (uvicorn workers)."""
    import os

    from geomatch.web.settings import SETTINGS_ENV_VAR, settings_from_json

    return create_app(settings_from_json(os.environ[SETTINGS_ENV_VAR]))
