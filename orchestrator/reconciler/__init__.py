"""The reconciler's core: observed state, pure planning, restart and health rules, execution.

Modules: ``observed`` (what the engine shows), ``hash`` (config hash), ``restart``
and ``health`` (Docker's rules, pure), ``actions``, ``plan`` (+ ``plan_scale``,
``plan_deps``, ``plan_down``, ``plan_state``) and ``executor``. Import them
directly; this package re-exports nothing so importing it stays cheap.
"""

__all__: list[str] = []
