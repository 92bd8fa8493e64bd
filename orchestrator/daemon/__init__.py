"""shoald: the daemon that keeps compose projects as declared (state, API, reconcile loop)."""
__all__: list[str] = []
