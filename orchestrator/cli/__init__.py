"""shoal's command line: `docker compose` verbs and flags, a thin client over the orchestrator."""
