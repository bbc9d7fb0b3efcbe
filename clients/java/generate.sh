#!/usr/bin/env bash
# Regenerates the committed Java messages and gRPC stubs under src/generated/java from the
# jobsvc protos. Run from the repository root:
#
#   clients/java/generate.sh "$PWD/proto"
#
# protoc and protoc-gen-grpc-java are fetched from Maven Central (as Maven artifacts, with
# the mvn on PATH) into clients/java/.bin on first use. protoc's version matches the
# protobuf-java runtime in pom.xml, so the generated code and the runtime agree. The output
# is deterministic: running this twice leaves no diff. `mvn test` never needs protoc.
set -euo pipefail

PROTOC_VERSION=4.35.1        # = protobuf.version in pom.xml
GRPC_PLUGIN_VERSION=1.83.1   # newest protoc-gen-grpc-java with a linux-x86_64 binary on Central

proto_dir=${1:?usage: clients/java/generate.sh /abs/path/to/proto}
proto_dir=$(cd "$proto_dir" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/.bin"
out="$here/src/generated/java"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x86_64 ;;
  Linux-aarch64) platform=linux-aarch_64 ;;
  Darwin-x86_64) platform=osx-x86_64 ;;
  Darwin-arm64) platform=osx-aarch_64 ;;
  *) echo "generate.sh: unsupported platform $(uname -s)-$(uname -m)" >&2; exit 2 ;;
esac

# fetch GROUP:ARTIFACT:VERSION:TYPE[:CLASSIFIER] FILE: copies that artifact from the local Maven
# repository (downloading it first if needed) to .bin/FILE.
fetch() {
  if [ ! -s "$bin/$2" ]; then
    mkdir -p "$bin"
    mvn -q -B -Dstyle.color=never -f "$here/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy \
      -Dartifact="$1" -DoutputDirectory="$bin" -Dmdep.stripVersion=false >&2
  fi
  printf '%s\n' "$bin/$2"
}

protoc=$(fetch "com.google.protobuf:protoc:$PROTOC_VERSION:exe:$platform" "protoc-$PROTOC_VERSION-$platform.exe")
grpc_plugin=$(fetch "io.grpc:protoc-gen-grpc-java:$GRPC_PLUGIN_VERSION:exe:$platform" \
  "protoc-gen-grpc-java-$GRPC_PLUGIN_VERSION-$platform.exe")
chmod +x "$protoc" "$grpc_plugin"
# The well-known types (google/protobuf/*.proto) as the protobuf-java runtime ships them.
runtime_jar=$(fetch "com.google.protobuf:protobuf-java:$PROTOC_VERSION:jar" "protobuf-java-$PROTOC_VERSION.jar")
include="$bin/include-$PROTOC_VERSION"
if [ ! -e "$include/google/protobuf/struct.proto" ]; then
  rm -rf "$include" && mkdir -p "$include"
  (cd "$include" && jar xf "$runtime_jar" google/protobuf)
fi

rm -rf "$out"
mkdir -p "$out"
# Sorted, relative file names: the same command line (and so the same output) everywhere.
protos=()
while IFS= read -r file; do protos+=("$file"); done < <(cd "$proto_dir" && find jobsvc -name '*.proto' | LC_ALL=C sort)
(cd "$proto_dir" && "$protoc" -I . -I "$include" \
  --java_out="$out" \
  --plugin=protoc-gen-grpc-java="$grpc_plugin" --grpc-java_out="$out" \
  "${protos[@]}")
echo "generated $(find "$out" -name '*.java' | wc -l) Java files in ${out#"$PWD"/}"
