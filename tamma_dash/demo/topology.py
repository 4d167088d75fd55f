"""Who is in the demo fleet: service names, kinds and what each depends on."""

from __future__ import annotations

from dataclasses import dataclass

from tamma_dash.models import ServiceKind

FLEET_KINDS = frozenset({
    ServiceKind.ORCHESTRATOR, ServiceKind.WORKER, ServiceKind.API, ServiceKind.DASHBOARD,
    ServiceKind.DATABASE,
})
"""Kinds that run our own code and serve /health and /metrics."""

EXTERNAL_KINDS = frozenset({ServiceKind.PROVIDER, ServiceKind.GIT})
"""Kinds we only probe: LLM providers and git platforms, known by their rate-limit headers."""


@dataclass(frozen=True)
class ServiceSpec:
    """One demo service: its name, kind, dependencies and position (for per-service offsets)."""

    name: str
    kind: ServiceKind
    depends_on: tuple[str, ...] = ()
    index: int = 0

    @property
    def is_fleet(self) -> bool:
        return self.kind in FLEET_KINDS

    @property
    def checks_database(self) -> bool:
        """Whether its health document carries database:connections / database:responseTime."""
        return self.kind in (ServiceKind.API, ServiceKind.ORCHESTRATOR, ServiceKind.DATABASE)


WORKERS = ("worker-1", "worker-2", "worker-3")
PROVIDERS = ("openai", "anthropic")
GIT_PLATFORMS = ("github", "gitlab")

_ORCH_DEPS = ("database", *PROVIDERS, *GIT_PLATFORMS)
_WORKER_DEPS = ("orchestrator", *PROVIDERS, "github")

SERVICES: tuple[ServiceSpec, ...] = tuple(
    ServiceSpec(name, kind, deps, i)
    for i, (name, kind, deps) in enumerate([
        ("orchestrator", ServiceKind.ORCHESTRATOR, _ORCH_DEPS),
        *[(w, ServiceKind.WORKER, _WORKER_DEPS) for w in WORKERS],
        ("api", ServiceKind.API, ("orchestrator", "database")),
        ("dashboard", ServiceKind.DASHBOARD, ("api",)),
        ("database", ServiceKind.DATABASE, ()),
        *[(p, ServiceKind.PROVIDER, ()) for p in PROVIDERS],
        *[(g, ServiceKind.GIT, ()) for g in GIT_PLATFORMS],
    ])
)

SERVICE_NAMES = tuple(s.name for s in SERVICES)
FLEET_NAMES = tuple(s.name for s in SERVICES if s.is_fleet)
EXTERNAL_NAMES = tuple(s.name for s in SERVICES if not s.is_fleet)
HTTP_SERVING = ("orchestrator", "api", "dashboard")
"""Services that answer HTTP requests and export tamma_http_* metrics."""


def spec(name: str) -> ServiceSpec:
    """The spec of ``name``; raises KeyError for a name outside the demo fleet."""
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(name)
