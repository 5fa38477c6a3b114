"""CLI: parse arguments, call a command, render its result (console, JSON, GitHub Actions),
and map errors to exit codes. Nothing here decides release policy.
"""
