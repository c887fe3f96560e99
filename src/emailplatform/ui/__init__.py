"""The web UI: server-rendered pages (Jinja2 + htmx) on the same services as the API.

The app includes `router` and mounts `static_app` at `STATIC_PATH`."""

from fastapi.staticfiles import StaticFiles

from emailplatform.ui.router import router
from emailplatform.ui.views import HERE, STATIC_PATH

static_app = StaticFiles(directory=HERE / "static")
FAVICON = HERE / "static" / "favicon.svg"  # also answers /favicon.ico, which browsers ask for by themselves

__all__ = ["FAVICON", "STATIC_PATH", "router", "static_app"]
