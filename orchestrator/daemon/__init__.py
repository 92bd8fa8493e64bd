"""shoald: the daemon that keeps compose projects as declared (state, API, reconcile loop)."""
