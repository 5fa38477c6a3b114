"""Adapters: the only modules that talk to the outside world (git, forges)."""
