#!/usr/bin/env bash
# Regenerates the Go protobuf/gRPC code in clients/go/gen/ from the proto folder.
#   clients/go/generate.sh /abs/path/to/proto      (run from the repository root)
# Plugins are pinned and installed into clients/go/.bin; protoc is the one bundled
# with the Python venv's grpcio-tools, so every machine generates the same bytes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
proto="${1:-$repo/proto}"
proto="$(cd "$proto" && pwd)"
py="${PYTHON:-$repo/.venv/bin/python}"
module=github.com/jobsvc/jobsvc/clients/go

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2

bin="$here/.bin"
mkdir -p "$bin"
# A version stamp per plugin avoids a module download on every run.
install_plugin() { # name package version
  local stamp="$bin/.$1-$3"
  if [ ! -x "$bin/$1" ] || [ ! -e "$stamp" ]; then
    rm -f "$bin/.$1-"*
    GOBIN="$bin" go install "$2@$3"
    touch "$stamp"
  fi
}
install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

wkt="$("$py" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
out="$here/gen/jobsvc/v1"
rm -rf "$out" && mkdir -p "$out"
# Relative file names (-I with a cd) keep absolute paths out of the generated code.
(
  cd "$proto"
  "$py" -m grpc_tools.protoc -I . -I "$wkt" \
    --plugin=protoc-gen-go="$bin/protoc-gen-go" \
    --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
    --go_out="$here" --go_opt=module="$module" \
    --go-grpc_out="$here" --go-grpc_opt=module="$module" \
    jobsvc/v1/*.proto
)
