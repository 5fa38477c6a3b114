"""Preflight: the checks run before a step's first side effect (and by `doctor`).

Each module inspects one class of facts — git, the forge, GitHub, version files, workflows,
stale references, registries — and returns `Finding`s (`rcflow.model.findings`).
"""
