"""The reconciler's core: observed state, pure planning, restart and health rules, execution."""
