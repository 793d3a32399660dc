#!/usr/bin/env bash
# Installs the Go tools Runwire's code generation, grpcurl checks and fault tests use into
# build/bin of the checkout, from the Go module proxy, at pinned versions:
#   protoc-gen-go       messages   (matches google.golang.org/protobuf in clients/go/go.mod)
#   protoc-gen-go-grpc  gRPC stubs (generated code needs google.golang.org/grpc >= 1.64)
#   grpcurl             the README's command-line examples (tests/clients/test_grpcurl.py)
#   toxiproxy-server    network faults for the fault matrix (tests/faults/, bench/faults.py)
# Idempotent: a tool already built from the pinned version is left alone.
# Usage: clients/go/install-tools.sh [TOOL ...]   (default: all four; needs Go >= 1.25)
set -euo pipefail
cd "$(dirname "$0")/../.."

declare -A PACKAGES=(
  [protoc-gen-go]=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
  [protoc-gen-go-grpc]=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
  [grpcurl]=github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
  [toxiproxy-server]=github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0
)
tools=("$@")
[[ ${#tools[@]} == 0 ]] && tools=(protoc-gen-go protoc-gen-go-grpc grpcurl toxiproxy-server)

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
  # go install names the binary after the package's last element (toxiproxy's is
  # "server"): build into a scratch directory, then move it to its name here.
  scratch=$(mktemp -d)
  GOBIN="$scratch" GOFLAGS=-buildvcs=false go install "$package"
  path=${package%@*}
  mv "$scratch/${path##*/}" "build/bin/$tool"
  rmdir "$scratch"
done
