"""Every view's router, joined: `console.app` includes this one."""

from __future__ import annotations

from fastapi import APIRouter

from console.views import apidocs, dicom, jobs, overview, pipelines, results, studies

router = APIRouter()
for view in (overview, studies, pipelines, jobs, results, dicom, apidocs):
    router.include_router(view.router)
