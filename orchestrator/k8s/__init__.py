"""`shoal convert kubernetes`: the same compose project as Kubernetes manifests.

``convert`` is pure (normalised project dict in, manifests and warnings out);
``render`` turns manifests into YAML text and file names; ``lint`` checks what
schema validation cannot see (selectors, ports, volume references, names).
"""

from __future__ import annotations

from .context import ConversionWarning, Warning
from .convert import Conversion, convert
from .lint import lint
from .render import file_name, to_yaml, to_yaml_stream

__all__ = ["convert", "Conversion", "Warning", "ConversionWarning", "lint",
           "to_yaml", "to_yaml_stream", "file_name"]
