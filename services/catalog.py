"""The services: where each one's app, migrations and default port are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    schema: str
    port: int
    factory: str

    @property
    def migrations(self) -> Path:
        return _HERE / self.name / "migrations"


SERVICES: dict[str, ServiceInfo] = {
    s.name: s
    for s in (
        ServiceInfo("intake", "intake", 8000, "services.intake.app:create_app"),
        ServiceInfo("router", "router", 8001, "services.router.app:create_app"),
        ServiceInfo("credit", "credit", 8002, "services.credit.app:create_app"),
        ServiceInfo("ops", "ops", 8003, "services.ops.app:create_app"),
    )
}


def migrate(database_url: str, names: list[str] | None = None) -> None:
    from shared.access_tables import SCHEMA as ACCESS
    from shared.migrations import upgrade

    # The shared access schema (credentials, audit log) first: services' migrations and
    # every service's requests read it.
    upgrade(Path(__file__).parent.parent / "shared" / "access_migrations", database_url, ACCESS)
    for name in names or list(SERVICES):
        info = SERVICES[name]
        upgrade(info.migrations, database_url, info.schema)
