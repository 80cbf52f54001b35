"""/docs: Swagger UI on this service's own /openapi.json, served offline.

The page's scripts and styles come from the swagger-ui-py wheel's copy of Swagger UI 5 (no
CDN: the page works on a cluster without internet access), found without importing that
package (its Python side is not used). The initializer is a file of ours rather than an
inline script, so nothing on the page needs `unsafe-inline`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>viewing-time-service API</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""

INIT = """window.onload = () => {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
                               tryItOutEnabled: false, persistAuthorization: false});
};
"""


def _assets() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (a runtime dependency)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


ASSETS = _assets()


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def script(request: Request) -> Response:
    return Response(INIT, media_type="text/javascript")


async def bundle(request: Request) -> Response:
    return FileResponse(ASSETS / "swagger-ui-bundle.js", media_type="text/javascript")


async def stylesheet(request: Request) -> Response:
    return FileResponse(ASSETS / "swagger-ui.css", media_type="text/css")
