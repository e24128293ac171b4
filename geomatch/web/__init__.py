"""The review web application for offender managers: ``geomatch serve``.

A queue of hits, a page per hit with its evidence, one click to record an outcome, assignment to offender
managers, the monthly MoJ audit and an access log of who saw what, over the review store. See docs/web.md.
"""
from geomatch.web.settings import WebSettings

__all__ = ["WebSettings", "create_app", "serve"]


def create_app(settings: WebSettings):
    """The FastAPI application for ``settings`` (see :mod:`geomatch.web.app`)."""
    from geomatch.web.app import create_app as _create

    return _create(settings)


def serve(settings: WebSettings, *, host: str = "127.0.0.1", port: int = 8765,
          forwarded_allow_ips: str | None = None, workers: int = 1) -> None:
    """Serve the application with uvicorn until interrupted.

    Args:
        forwarded_allow_ips: addresses of reverse proxies whose ``X-Forwarded-For`` is believed (the access log's
            client address); default uvicorn's (``127.0.0.1``).
        workers: server processes (more than one uses more cores; they share the settings and secret key).
    """
    import uvicorn

    # Idle connections are kept 75 s, longer than a reverse proxy keeps its upstream connections (nginx: 60 s) and
    # than a reviewer reading a page: uvicorn's default of 5 s closed them under the next request now and then
    # ("server disconnected without sending a response" in the load test, a 502 behind a proxy).
    options = {"host": host, "port": port, "proxy_headers": True, "server_header": False,
               "forwarded_allow_ips": forwarded_allow_ips, "log_level": "warning", "timeout_keep_alive": 75}
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    import os

    from geomatch.web.settings import SETTINGS_ENV_VAR, settings_to_json

    os.environ[SETTINGS_ENV_VAR] = settings_to_json(settings)  # inherited by the worker processes
    uvicorn.run("geomatch.web.app:app_from_environment", factory=True, workers=workers, **options)
