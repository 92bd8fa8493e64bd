"""Parse and normalize image references like Docker: redis -> docker.io/library/redis:latest."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidReference

__all__ = ["Reference", "parse", "DEFAULT_DOMAIN", "registry_endpoint", "is_image_id"]

DEFAULT_DOMAIN = "docker.io"
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")
_ID = re.compile(r"^(?:sha256:)?[0-9a-f]{4,64}$")


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalized reference: domain, repository path, optional tag and digest."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """The repository name with its domain, e.g. docker.io/library/redis."""
        return f"{self.domain}/{self.path}"

    @property
    def ref(self) -> str:
        """What to ask the registry for: the digest if pinned, else the tag."""
        return self.digest or self.tag

    def with_tag(self, tag: str) -> "Reference":
        """The same repository with another tag and no digest."""
        return Reference(self.domain, self.path, tag, "")

    def familiar(self) -> str:
        """The short form Docker prints: redis:latest, myhost/app:1, localhost:5000/a:b."""
        name = self.name
        if self.domain == DEFAULT_DOMAIN:
            name = self.path[len("library/"):] if self.path.startswith("library/") else self.path
        return name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def _split_domain(name: str) -> tuple[str, str]:
    """Split the registry host off a name when the first component looks like one."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return DEFAULT_DOMAIN, name


def parse(ref: str, default_tag: str = "latest") -> Reference:
    """Parse and normalize ``ref``; a reference without tag or digest gets ``default_tag``."""
    text = ref.strip()
    if not text:
        raise InvalidReference("invalid reference format: empty image name")
    name, digest = text, ""
    if "@" in text:
        name, _, digest = text.partition("@")
        if not _DIGEST.match(digest):
            raise InvalidReference(f"invalid reference format: bad digest in {ref!r}")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid reference format: bad tag {tag!r} in {ref!r}")
    domain, path = _split_domain(name)
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if not _DOMAIN.match(domain):
        raise InvalidReference(f"invalid reference format: bad registry {domain!r} in {ref!r}")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = "library/" + path
    for comp in path.split("/"):
        if not _COMPONENT.match(comp):
            raise InvalidReference(
                f"invalid reference format: repository name must be lowercase ({ref!r})")
    if len(domain) + 1 + len(path) > 255:
        raise InvalidReference(f"invalid reference format: name too long ({ref!r})")
    if not tag and not digest:
        tag = default_tag
    return Reference(domain, path, tag, digest)


def registry_endpoint(domain: str) -> str:
    """The host to talk to for ``domain`` (Docker Hub's API lives on registry-1.docker.io)."""
    return "registry-1.docker.io" if domain == DEFAULT_DOMAIN else domain


def is_image_id(text: str) -> bool:
    """True when ``text`` looks like an image id or an id prefix (hex, optional sha256:)."""
    return bool(_ID.match(text))
