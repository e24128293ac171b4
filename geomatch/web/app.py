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
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    app.add_middleware(SecurityHeaders)

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


class SecurityHeaders:
    """Adds the security headers to every response; pages and API answers are not cached (they carry personal
    data), the vendored static files are cached for a year (their URLs carry the version: a new one is a new URL).

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` streams every response through a task group and
    memory streams, a cost paid on every request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers.setdefault("X-Frame-Options", "SAMEORIGIN")
                headers["Cache-Control"] = "public, max-age=31536000, immutable" if static else "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def app_from_environment() -> FastAPI:
    """The application for the settings its parent put in ``$GEOMATCH_WEB_SETTINGS`` (uvicorn workers)."""
    import os

    from geomatch.web.settings import SETTINGS_ENV_VAR, settings_from_json

    return create_app(settings_from_json(os.environ[SETTINGS_ENV_VAR]))
