"""`/api/config/{claraaetitle,sourceaetitle,destinationaetitle}`: Clara 0.8's config API, plus PUT and C-ECHO.

Every change reloads the registry, so it applies to the next association without a restart. Creating or
updating a Clara AE title also re-drives its faulted payloads (the change may be the fix they waited for).
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from dicom_adapter.api.deps import ApiDependencies, dependencies
from dicom_adapter.api.openapi import ClaraAeTitleOut, DestinationOut, EchoOut, SourceOut, answers, body
from dicom_adapter.config.entities import (
    ClaraAeTitleBody,
    DestinationBody,
    SourceBody,
    clara_to_wire,
    destination_to_wire,
    source_to_wire,
)
from dicom_adapter.errors import InvalidEntity
from dicom_adapter.models import ClaraAeTitle

log = structlog.get_logger()
router = APIRouter(prefix="/api/config")
Deps = Annotated[ApiDependencies, Depends(dependencies)]


def _created(body: dict[str, Any], location: str, warnings: list[str] | None = None) -> JSONResponse:
    headers = {"Location": location}
    if warnings:
        # RFC 7234 "miscellaneous warning": the entity is saved, but something looks wrong.
        headers["Warning"] = "; ".join(f'199 - "{w}"' for w in warnings)
        body = {**body, "warnings": warnings}
    return JSONResponse(body, status_code=201, headers=headers)


async def _pipeline_warnings(deps: ApiDependencies, entity: ClaraAeTitle) -> list[str]:
    if deps.pipelines is None:
        return []
    warnings = []
    for key, pipeline_id in entity.pipelines.items():
        if await deps.pipelines.pipeline_exists(pipeline_id) is False:
            warnings.append(f"pipeline-{key}: pipeline {pipeline_id} is not known to the platform")
    for warning in warnings:
        log.warning("api.pipeline_unknown", ae_title=entity.ae_title, warning=warning)
    return warnings


async def _redrive(deps: ApiDependencies, entity: ClaraAeTitle, warnings: list[str]) -> int:
    if deps.redrive_faulted is None:
        return 0
    try:
        return await deps.redrive_faulted(entity.ae_title)
    except Exception as exc:
        # The entity is saved already: answering 500 would make the client repeat a change that succeeded.
        log.exception("api.redrive_failed", ae_title=entity.ae_title)
        warnings.append(f"faulted payloads were not re-driven ({exc}); retry them with POST /api/payloads/{{id}}/retry")
        return 0


# Clara AE titles ---------------------------------------------------------------------------------------


@router.get("/claraaetitle", response_model=None, summary="List Clara AE titles",
            responses=answers(ok={200: body(list[ClaraAeTitleOut], "Every Clara AE title")}))
async def list_clara_ae_titles(deps: Deps) -> list[dict[str, Any]]:
    """The AE titles the SCP answers to, each with the pipelines its studies run."""
    return [clara_to_wire(e) for e in await deps.config.list_clara_ae_titles()]


@router.get("/claraaetitle/{name}", response_model=None, summary="Get a Clara AE title",
            responses=answers(404, ok={200: body(ClaraAeTitleOut, "The Clara AE title")}))
async def get_clara_ae_title(name: str, deps: Deps) -> dict[str, Any]:
    """One Clara AE title by name."""
    return clara_to_wire(await deps.config.get_clara_ae_title(name))


@router.post("/claraaetitle", response_model=None, status_code=201, summary="Create a Clara AE title",
             responses=answers(400, 409, ok={201: body(ClaraAeTitleOut, "Created; applies to the next association")}))
async def create_clara_ae_title(body: ClaraAeTitleBody, deps: Deps) -> JSONResponse:
    """Studies sent to this AE title run its `pipeline-NAME` pipelines (one job each). `Location` names it;
    `warnings` (and a `Warning` header) flag an unknown pipeline; faulted payloads of it are re-driven."""
    entity = body.to_model(deps.minimum_timeout)
    await deps.config.save_clara_ae_title(entity)
    await deps.registry.reload()
    log.info("api.clara_ae_title.created", name=entity.name, ae_title=entity.ae_title)
    warnings = await _pipeline_warnings(deps, entity)
    wire = clara_to_wire(entity)
    redriven = await _redrive(deps, entity, warnings)
    if redriven:
        # Only when there were any: Clara's clients get Clara's shape.
        wire["redrivenPayloads"] = redriven
    return _created(wire, f"/api/config/claraaetitle/{entity.name}", warnings)


@router.put("/claraaetitle/{name}", response_model=None, summary="Replace a Clara AE title",
            responses=answers(400, 404, 409,
                              ok={200: body(ClaraAeTitleOut, "Replaced; applies to the next association")}))
async def update_clara_ae_title(name: str, body: ClaraAeTitleBody, deps: Deps) -> dict[str, Any]:
    """Our extension of Clara's API: change an AE title's settings in place (the name cannot change)."""
    if body.name is not None and body.name.strip().lower() != name.lower():
        raise InvalidEntity("name", f"does not match the path ({name!r}); names cannot be changed")
    body = body.model_copy(update={"name": name})
    entity = body.to_model(deps.minimum_timeout)
    await deps.config.save_clara_ae_title(entity, replace=True)
    await deps.registry.reload()
    log.info("api.clara_ae_title.updated", name=entity.name, ae_title=entity.ae_title)
    warnings = await _pipeline_warnings(deps, entity)
    redriven = await _redrive(deps, entity, warnings)
    return {**clara_to_wire(entity), "warnings": warnings, "redrivenPayloads": redriven}


@router.delete("/claraaetitle/{name}", response_model=None, summary="Delete a Clara AE title",
               responses=answers(404, ok={200: body(ClaraAeTitleOut, "The deleted Clara AE title")}))
async def delete_clara_ae_title(name: str, deps: Deps) -> dict[str, Any]:
    """Studies sent to it are refused from the next association on; payloads already received are kept."""
    entity = await deps.config.delete_clara_ae_title(name)
    await deps.registry.reload()
    log.info("api.clara_ae_title.deleted", name=entity.name)
    return clara_to_wire(entity)


# Sources -------------------------------------------------------------------------------------------------


@router.get("/sourceaetitle", response_model=None, summary="List sources",
            responses=answers(ok={200: body(list[SourceOut], "Every source")}))
async def list_sources(deps: Deps) -> list[dict[str, Any]]:
    """The senders (calling AE title and address) that may connect."""
    return [source_to_wire(e) for e in await deps.config.list_sources()]


@router.get("/sourceaetitle/{ae_title}", response_model=None, summary="Get a source",
            responses=answers(404, ok={200: body(SourceOut, "The source")}))
async def get_source(ae_title: str, deps: Deps) -> dict[str, Any]:
    """One source by its AE title."""
    return source_to_wire(await deps.config.get_source(ae_title))


@router.post("/sourceaetitle", response_model=None, status_code=201, summary="Create a source",
             responses=answers(400, 409, ok={201: body(SourceOut, "Created; applies to the next association")}))
async def create_source(body: SourceBody, deps: Deps) -> JSONResponse:
    """Let a sender connect: its calling AE title from an IP address, CIDR block or host name."""
    entity = body.to_model()
    await deps.config.save_source(entity)
    await deps.registry.reload()
    log.info("api.source.created", ae_title=entity.ae_title)
    return _created(source_to_wire(entity), f"/api/config/sourceaetitle/{entity.ae_title}")


@router.put("/sourceaetitle/{ae_title}", response_model=None, summary="Replace a source",
            responses=answers(400, 404, ok={200: body(SourceOut, "Replaced")}))
async def update_source(ae_title: str, body: SourceBody, deps: Deps) -> dict[str, Any]:
    """Our extension of Clara's API: change where a source may connect from (the AE title cannot change)."""
    if body.ae_title.lower() != ae_title.strip().lower():
        raise InvalidEntity("aeTitle", f"does not match the path ({ae_title!r}); AE titles cannot be changed")
    entity = body.to_model()
    await deps.config.save_source(entity, replace=True)
    await deps.registry.reload()
    return source_to_wire(entity)


@router.delete("/sourceaetitle/{ae_title}", response_model=None, summary="Delete a source",
               responses=answers(404, ok={200: body(SourceOut, "The deleted source")}))
async def delete_source(ae_title: str, deps: Deps) -> dict[str, Any]:
    """The sender is refused from the next association on."""
    entity = await deps.config.delete_source(ae_title)
    await deps.registry.reload()
    log.info("api.source.deleted", ae_title=entity.ae_title)
    return source_to_wire(entity)


# Destinations ----------------------------------------------------------------------------------------------


@router.get("/destinationaetitle", response_model=None, summary="List destinations",
            responses=answers(ok={200: body(list[DestinationOut], "Every destination")}))
async def list_destinations(deps: Deps) -> list[dict[str, Any]]:
    """Where results are exported to, by name."""
    return [destination_to_wire(e) for e in await deps.config.list_destinations()]


@router.get("/destinationaetitle/{name}", response_model=None, summary="Get a destination",
            responses=answers(404, ok={200: body(DestinationOut, "The destination")}))
async def get_destination(name: str, deps: Deps) -> dict[str, Any]:
    """One destination by name."""
    return destination_to_wire(await deps.config.get_destination(name))


@router.post("/destinationaetitle", response_model=None, status_code=201, summary="Create a destination",
             responses=answers(400, 409, ok={201: body(DestinationOut, "Created")}))
async def create_destination(body: DestinationBody, deps: Deps) -> JSONResponse:
    """A PACS results are exported to (C-STORE), optionally over DICOM TLS (`tls`, our extension)."""
    entity = body.to_model()
    await deps.config.save_destination(entity)
    await deps.registry.reload()
    log.info("api.destination.created", name=entity.name)
    return _created(destination_to_wire(entity), f"/api/config/destinationaetitle/{entity.name}")


@router.put("/destinationaetitle/{name}", response_model=None, summary="Replace a destination",
            responses=answers(400, 404, ok={200: body(DestinationOut, "Replaced")}))
async def update_destination(name: str, body: DestinationBody, deps: Deps) -> dict[str, Any]:
    """Our extension of Clara's API: repoint a destination (the name cannot change)."""
    if body.name.strip().lower() != name.lower():
        raise InvalidEntity("name", f"does not match the path ({name!r}); names cannot be changed")
    entity = body.to_model()
    await deps.config.save_destination(entity, replace=True)
    await deps.registry.reload()
    return destination_to_wire(entity)


@router.delete("/destinationaetitle/{name}", response_model=None, summary="Delete a destination",
               responses=answers(404, ok={200: body(DestinationOut, "The deleted destination")}))
async def delete_destination(name: str, deps: Deps) -> dict[str, Any]:
    """Export tasks naming it fail with the reason from then on."""
    entity = await deps.config.delete_destination(name)
    await deps.registry.reload()
    log.info("api.destination.deleted", name=entity.name)
    return destination_to_wire(entity)


@router.post(
    "/destinationaetitle/{name}/cecho", response_model=None,
    summary="C-ECHO a destination",
    responses=answers(404, ok={200: body(EchoOut, "The destination answered the C-ECHO"),
                               502: body(EchoOut, "The destination did not answer; `message` says why")}),
)
async def echo_destination(name: str, deps: Deps, response: Response) -> dict[str, Any]:
    """C-ECHO the destination the way the export SCU reaches it (DICOM TLS included): 200 when it answers,
    502 with `success` false and the reason in `message` when it does not."""
    entity = await deps.config.get_destination(name)
    result = await deps.echo(entity)
    response.status_code = 200 if result.success else 502
    return {
        "name": entity.name,
        "success": result.success,
        "message": result.message,
        "status": result.status,
        "elapsedMs": round(result.elapsed_ms, 1),
    }
