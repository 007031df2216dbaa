#!/usr/bin/env bash
# proto/generate.sh PROTOC_GEN_SWIFT: regenerates Sources/DDPLM/IO/TensorBoard/*.pb.swift (see proto/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 1 && -x $1 ]] || { echo "usage: proto/generate.sh PATH/TO/protoc-gen-swift (built from swift-protobuf 1.39.0)" >&2; exit 2; }
command -v protoc >/dev/null || { echo "proto/generate.sh: protoc not found; apt-get install -y protobuf-compiler" >&2; exit 1; }
protoc --plugin=protoc-gen-swift="$1" -I proto \
  --swift_out=Sources/DDPLM/IO/TensorBoard \
  --swift_opt=Visibility=Internal --swift_opt=FileNaming=DropPath \
  tensorboard/event.proto tensorboard/summary.proto
