#!/usr/bin/env bash
# Install the real servers the artifact tests start on 127.0.0.1 (filled in by the artifact work).
set -euo pipefail
