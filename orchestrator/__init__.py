"""shoal's orchestrator: the compose model, the graph, the reconciler, the daemon and the CLI."""
