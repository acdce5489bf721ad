"""Documents an agent can push: the service's catalogue, or an upload checked
for size and type (the name's extension *and* the file's first bytes)."""

from __future__ import annotations

import re
import secrets
import unicodedata
import urllib.parse
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .settings import Document

# The first bytes of each type we accept (text has none: it must decode as UTF-8).
_MAGIC: Mapping[str, tuple[bytes, ...]] = MappingProxyType({
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
})


class UploadRefused(ValueError):
    """An upload that is too big, of a type we do not take, or not what its name says."""

    status = 415                        # the HTTP status that says why


class UploadTooBig(UploadRefused):
    """An upload over the size limit."""

    status = 413


class UploadEmpty(UploadRefused):
    """An upload with no bytes."""

    status = 400


NAME_MAX = 120                    # characters of a document's name, its extension kept


def safe_name(name: str) -> str:
    """A file name fit to show and to send back: no paths, no control or direction
    characters, no dot or space to start or end it; letters of any script, digits, marks
    and pictographs (emoji) stay; a long one is cut, keeping its extension."""
    base = Path(unicodedata.normalize("NFC", name).replace("\\", "/")).name
    cleaned = "".join(ch if ch in "._-() " or unicodedata.category(ch)[0] in "LNM"
                      or unicodedata.category(ch) == "So" else "_" for ch in base)
    # Leading dots and spaces go together (". .png" is no name); the cut keeps ".png".
    cleaned = cleaned.lstrip(". ").rstrip() or "document"
    if len(cleaned) > NAME_MAX:
        suffix = Path(cleaned).suffix[:16]
        cleaned = cleaned[:NAME_MAX - len(suffix)].rstrip(". ") + suffix
    return cleaned


def content_disposition(name: str, inline: bool) -> str:
    """A Content-Disposition header for a document's name (RFC 6266): an ASCII `filename`
    for old clients and `filename*=UTF-8''...` with the name as it is (RFC 5987)."""
    shown = safe_name(name)
    path = Path(shown)
    # The fallback: accents dropped, anything else not plain ASCII replaced.
    stem = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._\- ()]", "_", stem).strip(" ._") or "document"
    suffix = re.sub(r"[^A-Za-z0-9.]", "", path.suffix)
    fallback = f"{stem}{suffix}"
    encoded = urllib.parse.quote(shown, safe="")
    return f'{"inline" if inline else "attachment"}; filename="{fallback}"; ' \
           f"filename*=UTF-8''{encoded}"


def checked_upload(name: str, data: bytes, types: dict[str, str], max_bytes: int) -> Document:
    """An upload as a document; `UploadRefused` unless its size, extension and bytes pass."""
    if len(data) > max_bytes:
        raise UploadTooBig(f"The file is too big: at most {max_bytes // (1024 * 1024)} MB.")
    if not data:
        raise UploadEmpty("The file is empty.")
    shown = safe_name(name)
    content_type = types.get(Path(shown).suffix.lower())
    if content_type is None:
        allowed = ", ".join(sorted(types))
        raise UploadRefused(f"That type of file cannot be shared. Allowed: {allowed}.")
    if not _looks_like(content_type, data):
        raise UploadRefused("The file's content does not match its name.")
    return Document(id=secrets.token_urlsafe(9), name=shown, content_type=content_type, data=data)


def _looks_like(content_type: str, data: bytes) -> bool:
    if content_type == "text/plain":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    if content_type == "image/webp" and data[8:12] != b"WEBP":
        return False
    return any(data.startswith(magic) for magic in _MAGIC.get(content_type, ()))


class Catalogue:
    """The documents on the server an agent can push: the files of one folder, for
    every service, and those of its sub-folder named after a service code."""

    def __init__(self, folder: Path, types: Mapping[str, str]) -> None:
        self.folder = folder
        self.types = types

    def _files(self, service: str) -> dict[str, Path]:
        found: dict[str, Path] = {}
        own = self.folder / service
        if own.resolve().parent != self.folder.resolve():
            own = self.folder                     # a code like "../x" reaches nothing outside
        for folder in (self.folder, own):         # the service's own files win
            if folder.is_dir():
                found.update({p.name: p for p in folder.iterdir()
                              if p.is_file() and p.suffix.lower() in self.types})
        return found

    def names(self, service: str) -> list[str]:
        """The names of the documents an agent may push for `service`, sorted."""
        return sorted(self._files(service))

    def load(self, name: str, service: str) -> Document | None:
        """A listed document of `service`, read from disk; None for a name not listed."""
        path = self._files(service).get(name)     # only listed files: no path tricks
        if path is None:
            return None
        return Document(id=secrets.token_urlsafe(9), name=name,
                        content_type=self.types[path.suffix.lower()], data=path.read_bytes())
