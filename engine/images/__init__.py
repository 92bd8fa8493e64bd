"""Images: an OCI image-layout store, registry pulls, archives and safe layer unpacking.

The runtime uses ``ImageStore(root).lookup(ref)`` and mounts ``Image.layer_dirs``
(top first) as overlay lower directories.
"""

from .errors import ImageError, ImageNotFound, PullError
from .reference import Reference, parse
from .store import Image, ImageStore

__all__ = ["Image", "ImageStore", "ImageError", "ImageNotFound", "PullError", "Reference", "parse"]
