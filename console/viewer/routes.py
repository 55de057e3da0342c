"""The viewer's HTTP routes: the page, the manifest of an item's series, and the converted volumes.

    GET /viewer/{source}/{item}                                   the page (NiiVue, static/viewer/)
    GET /viewer/api/{source}/{item}/manifest                      series, SEGs and the one to open first
    GET /viewer/api/{source}/{item}/key.png                       the first series' middle slice (shown at once)
    GET /viewer/api/{source}/{item}/series/{key}/{level}.nii      a level of an image series (NIfTI)
    GET /viewer/api/{source}/{item}/labels/{key}/{level}.nii      a SEG on its image series' grid
    GET /viewer/api/{source}/{item}/labels/{key}/segments.json    what each label value means

Every route needs a logged-in person: the console's session gate runs first, and the router's own
dependency (`require_user`) refuses a request that reached it without a session. Volumes are PHI: the
browser is told not to store them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from console.pages import templates
from console.viewer.conversion import SEGMENTS
from console.viewer.errors import NotFound, UnreadableSegmentation, UnreadableSeries, ViewerError
from console.viewer.levels import LEVELS, file_name
from console.viewer.service import Viewer, manifest
from console.viewer.sources import PayloadFolders
from openclara.paths import clara_home

PRIVATE = {"cache-control": "no-store"}


def require_session(request: Request) -> None:
    """The console's gate puts the session in the request state; without one, nothing is shown."""
    if getattr(request.state, "session", None) is None:
        raise HTTPException(HTTPStatus.UNAUTHORIZED, "log in first")


def default_viewer() -> Viewer:
    """The embedded stack's layout: platform payloads under $CLARA_HOME/platform/payloads."""
    home = clara_home()
    return Viewer({"payloads": PayloadFolders(home / "platform" / "payloads")}, home / "console" / "viewer-cache")


def viewer_of(request: Request) -> Viewer:
    """The app's Viewer (`app.state.viewer`, set by the console), else one with the default layout."""
    found: Viewer | None = getattr(request.app.state, "viewer", None)
    if found is None:
        found = default_viewer()
        request.app.state.viewer = found
    return found


async def page(request: Request, source: str, item_id: str) -> Response:
    viewer = viewer_of(request)
    if source not in viewer.sources:
        return _problem(NotFound("no such kind of item"), request)
    # Start converting now: the browser needs ~1 s to load the viewer's code before it asks for data.
    asyncio.get_running_loop().run_in_executor(None, viewer.prepare, source, item_id)
    context = {"title": "Viewer", "source": source, "item_id": item_id, "active": ""}
    return templates.TemplateResponse(request, "viewer.html", context)


async def item_manifest(request: Request, source: str, item_id: str) -> Response:
    try:
        series = await asyncio.to_thread(viewer_of(request).catalog, source, item_id)
    except ViewerError as error:
        return _problem(error, request)
    return JSONResponse(manifest(series), headers=PRIVATE)


async def item_key_image(request: Request, source: str, item_id: str) -> Response:
    try:
        image = await viewer_of(request).key_image(source, item_id)
    except ViewerError as error:
        return _problem(error, request)
    return Response(image, media_type="image/png", headers=PRIVATE)


async def series_volume(request: Request, source: str, item_id: str, key: str, level: str) -> Response:
    if level not in LEVELS:
        return _problem(NotFound("no such level"), request)
    try:
        path = await viewer_of(request).volume(source, item_id, key, file_name(level))
    except ViewerError as error:
        return _problem(error, request)
    return _file(path)


async def labels(request: Request, source: str, item_id: str, key: str, name: str) -> Response:
    if name not in {*(file_name(level) for level in LEVELS), SEGMENTS}:
        return _problem(NotFound("no such file"), request)
    try:
        path = await viewer_of(request).labels(source, item_id, key, name)
    except ViewerError as error:
        return _problem(error, request)
    return _file(path)


def create_router(require_user: Callable[..., Any] = require_session) -> APIRouter:
    """The viewer's routes behind `require_user` (a FastAPI dependency that raises when nobody is logged in)."""
    router = APIRouter(dependencies=[Depends(require_user)])
    router.add_api_route("/viewer/{source}/{item_id}", page, methods=["GET"], include_in_schema=False)
    router.add_api_route("/viewer/api/{source}/{item_id}/manifest", item_manifest, methods=["GET"])
    router.add_api_route("/viewer/api/{source}/{item_id}/key.png", item_key_image, methods=["GET"])
    router.add_api_route("/viewer/api/{source}/{item_id}/series/{key}/{level}.nii", series_volume, methods=["GET"])
    router.add_api_route("/viewer/api/{source}/{item_id}/labels/{key}/{name}", labels, methods=["GET"])
    return router


def _file(path: Path) -> FileResponse:
    media = "application/json" if path.suffix == ".json" else "application/octet-stream"
    return FileResponse(path, media_type=media, headers=PRIVATE)


def _problem(error: ViewerError, request: Request) -> JSONResponse:
    status = HTTPStatus.NOT_FOUND if isinstance(error, NotFound) else HTTPStatus.UNPROCESSABLE_ENTITY
    if not isinstance(error, NotFound | UnreadableSeries | UnreadableSegmentation):
        status = HTTPStatus.INTERNAL_SERVER_ERROR
    body = {"title": status.phrase, "status": int(status), "detail": str(error), "instance": request.url.path}
    return JSONResponse(body, status_code=int(status), media_type="application/problem+json")


router = create_router()
