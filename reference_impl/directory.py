"""The service directory: form -> service code -> contact centres and room template."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .flow import CentreRoute, ServiceRoute


class DirectoryError(ValueError):
    """The directory was given something it does not know."""


class UnknownService(DirectoryError):
    """A form asked for a service that is not in the directory."""


class NoCentreForService(DirectoryError):
    """A service names a centre that does not exist."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Centre:
    """A contact centre: its desk phones in hunting order, their ring time, its hold queue."""

    name: str
    terminals: tuple[str, ...]          # desk phones, in hunting order
    ring_timeout: float
    queue_max_wait: float | None = None  # wait on hold for a free terminal (None: no queue)


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    """A service a form can ask for: its centres in failover order, and its room template."""

    code: str
    centres: tuple[str, ...]            # failover order
    room_template: str = "default"
    label: str = ""                     # what the form shows


@dataclass(frozen=True, slots=True)
class Directory:
    """The services and the centres that take them, checked once and turned into routes."""

    services: Mapping[str, Service]
    centres: Mapping[str, Centre]
    _routes: dict[str, ServiceRoute] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        owners: dict[str, str] = {}
        for centre in self.centres.values():
            for terminal in centre.terminals:
                if terminal in owners:
                    raise DirectoryError(f"terminal {terminal} is listed under centres "
                                         f"{owners[terminal]!r} and {centre.name!r}")
                owners[terminal] = centre.name
        for service in self.services.values():
            missing = [name for name in service.centres if name not in self.centres]
            if missing:
                raise NoCentreForService(
                    f"service {service.code!r} names unknown centre(s): {', '.join(missing)}")
            centres = tuple(CentreRoute(name=n, ring_timeout=self.centres[n].ring_timeout,
                                        queue_max_wait=self.centres[n].queue_max_wait)
                            for n in service.centres)
            self._routes[service.code] = ServiceRoute(
                service_code=service.code, centres=centres, room_template=service.room_template)

    def service_code(self, form: Mapping[str, str]) -> str:
        """The service code a form asks for (the form's `service` field)."""
        code = form.get("service", "")
        if code not in self.services:
            known = ", ".join(sorted(self.services)) or "none"
            raise UnknownService(f"unknown service {code!r} (known: {known})")
        return code

    def route(self, service_code: str) -> ServiceRoute:
        """The route of a service: its centres in failover order; raises UnknownService."""
        try:
            return self._routes[service_code]
        except KeyError:
            raise UnknownService(f"unknown service {service_code!r}") from None

    def terminal_owner(self) -> dict[str, str]:
        """Desk phone number -> centre name."""
        return {t: c.name for c in self.centres.values() for t in c.terminals}
