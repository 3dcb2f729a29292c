"""Intake's entrypoint: ``leadflow serve intake`` (uvicorn factory ``create_app``)."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake.api import leads
from services.intake.store import SCHEMA
from shared.service import create_service
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service(
        name="intake",
        schema=SCHEMA,
        title="Leadflow intake",
        description="The single point of entry for every lead and outside fact.",
        routers=[leads.router],
        settings=settings,
    )
