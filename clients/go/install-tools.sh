#!/usr/bin/env bash
# Installs the Go tools Runwire's code generation and grpcurl checks use into
# build/bin of the checkout, from the Go module proxy, at pinned versions:
#   protoc-gen-go       messages   (matches google.golang.org/protobuf in clients/go/go.mod)
#   protoc-gen-go-grpc  gRPC stubs (generated code needs google.golang.org/grpc >= 1.64)
#   grpcurl             the README's command-line examples (tests/clients/test_grpcurl.py)
# Idempotent: a tool already built from the pinned version is left alone.
# Usage: clients/go/install-tools.sh [TOOL ...]   (default: all three; needs Go >= 1.25)
set -euo pipefail
cd "$(dirname "$0")/../.."

declare -A PACKAGES=(
  [protoc-gen-go]=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
  [protoc-gen-go-grpc]=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
  [grpcurl]=github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
)
tools=("$@")
[[ ${#tools[@]} == 0 ]] && tools=(protoc-gen-go protoc-gen-go-grpc grpcurl)

if ! command -v go >/dev/null; then
  echo "install-tools: Go is required (https://go.dev/dl/, 1.25 or newer)" >&2
  exit 1
fi
mkdir -p build/bin
for tool in "${tools[@]}"; do
  package=${PACKAGES[$tool]:-}
  if [[ -z $package ]]; then
    echo "install-tools: unknown tool $tool (known: ${!PACKAGES[*]})" >&2
    exit 1
  fi
  version=${package##*@}
  # `go version -m` prints the main module's version the binary was built from.
  if [[ -x build/bin/$tool ]] &&
    go version -m "build/bin/$tool" 2>/dev/null | awk '$1 == "mod" {print $3}' | grep -qx "$version"; then
    continue
  fi
  GOBIN="$PWD/build/bin" GOFLAGS=-buildvcs=false go install "$package"
done
