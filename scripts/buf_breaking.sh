#!/usr/bin/env bash
# buf breaking: compares proto/ with the previous commit's (HEAD~1).
# Skipped only when HEAD~1 does not exist or has no protos (the commit that adds them).
# The previous tree is rebuilt in a temporary directory with the same third-party
# imports (build/proto-deps), since those are extracted at build time, not committed.
set -euo pipefail
cd "$(dirname "$0")/.."
against=${1:-HEAD~1}
if ! git rev-parse --verify --quiet "$against^{commit}" >/dev/null; then
  echo "buf breaking: skipped ($against does not exist: first commit)"
  exit 0
fi
if [[ -z "$(git ls-tree -r --name-only "$against" -- proto/runwire)" ]]; then
  echo "buf breaking: skipped ($against has no protos: this change adds them)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$against" proto buf.yaml | tar -x -C "$tmp"
mkdir -p "$tmp/build"
cp -r build/proto-deps "$tmp/build/"
node_modules/.bin/buf build "$tmp" -o "$tmp/against.binpb"
node_modules/.bin/buf build -o "$tmp/current.binpb"
# Both sides as one image each (the workspace has two modules: ours and the deps).
node_modules/.bin/buf breaking "$tmp/current.binpb" --against "$tmp/against.binpb" \
  --config '{"version":"v2","breaking":{"use":["FILE"]}}' --exclude-imports
echo "buf breaking: no breaking change against $(git rev-parse --short "$against")"
