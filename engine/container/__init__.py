"""Engine-side container logic: spec codec, validation, container files and the runtime plan."""

__all__: list[str] = []
