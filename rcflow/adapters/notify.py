"""Alerts: a JSON POST to a webhook (Slack-compatible `text`), for a step that failed."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from typing import Any


def post_json(url: str, payload: Mapping[str, Any], *, timeout: float = 10.0) -> None:
    """POST payload; raises on a transport error or a non-2xx answer. The URL is never logged."""
    if not url.startswith(("https://", "http://")):
        raise ValueError("the webhook URL must be http(s)")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "rcflow"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        response.read()
