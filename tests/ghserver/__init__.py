"""An in-memory GitHub REST API for tests, validated against GitHub's OpenAPI description."""

from .server import GitHubServer, Logged, Refused

__all__ = ["GitHubServer", "Logged", "Refused"]
