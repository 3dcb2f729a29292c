"""Body size limits per path: the shared limit everywhere, a larger one for the streamed
CSV upload (``POST /v1/imports``), which is spooled to disk, never held in memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http import BodySizeLimit


class PathBodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, import_max_bytes: int) -> None:
        self.default = BodySizeLimit(app, max_bytes)
        self.imports = BodySizeLimit(app, import_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == "/v1/imports":
            await self.imports(scope, receive, send)
        else:
            await self.default(scope, receive, send)
