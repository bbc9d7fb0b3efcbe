#!/usr/bin/env bash
# Generates the TypeScript protobuf code (src/gen/) from the jobsvc protos with the
# local protoc-gen-es plugin (node_modules) and the protoc bundled with grpcio-tools
# in the repository's Python venv: no remote generation service, no downloads.
#
#   clients/typescript/generate.sh /abs/path/to/proto      (from the repository root)
#
# The output is deterministic and committed; scripts/check-generated fails on drift.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
proto="${1:-$repo/proto}"
proto="$(cd "$proto" && pwd)"
py="${PYTHON:-$repo/.venv/bin/python}"
case "$py" in /*) ;; *) py="$repo/$py" ;; esac

if [ ! -x "$here/node_modules/.bin/protoc-gen-es" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

wkt="$("$py" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
out="$here/src/gen"
rm -rf "$out" && mkdir -p "$out"
# Sorted file lists keep the plugin's input (and so its output) stable.
mapfile -t jobsvc_protos < <(cd "$proto" && find jobsvc -name '*.proto' | LC_ALL=C sort)
"$py" -m grpc_tools.protoc \
  -I "$proto" -I "$here/proto-deps" -I "$wkt" \
  --plugin=protoc-gen-es="$here/node_modules/.bin/protoc-gen-es" \
  --es_out="$out" \
  --es_opt=target=ts,import_extension=js \
  "${jobsvc_protos[@]}" google/rpc/error_details.proto
