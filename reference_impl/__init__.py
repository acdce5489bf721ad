"""The web-callback system: call flow, directory, codes, records, ports."""

from .native import guard as _guard

# Before any hot module is imported: compiled only where the build matches the sources.
NATIVE = _guard()
