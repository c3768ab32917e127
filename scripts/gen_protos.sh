#!/usr/bin/env bash
# The one code generator: Python stubs (+ .pyi) in gen/python, Envoy's descriptor set and our OpenAPI
# document (envoy/openapi.json, which Envoy serves at GET /openapi.json), from protos/.
# Also vendors the googleapis protos we import from the installed googleapis-common-protos wheel, so buf
# resolves them offline. Run through `make proto`; never edit the outputs by hand.
# OUT=<dir> writes the outputs under another directory (the freshness test compares them with the tree).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-.}

site=$("$PY" -c 'import google.api, os; print(os.path.dirname(os.path.dirname(os.path.dirname(google.api.__file__))))')
vendor="$OUT/third_party/googleapis"
rm -rf "$vendor" && mkdir -p "$vendor/google/api" "$vendor/google/rpc"
for f in api/annotations.proto api/http.proto api/httpbody.proto rpc/status.proto rpc/code.proto rpc/error_details.proto; do
  cp "$site/google/$f" "$vendor/google/$f"
done

rm -rf "$OUT/gen/python" && mkdir -p "$OUT/gen/python/jan/v1" "$OUT/envoy"
touch "$OUT/gen/python/jan/__init__.py" "$OUT/gen/python/jan/v1/__init__.py"
protos=(protos/jan/v1/*.proto)
"$PY" -m grpc_tools.protoc -I protos -I "$vendor" \
  --python_out="$OUT/gen/python" --pyi_out="$OUT/gen/python" --grpc_python_out="$OUT/gen/python" "${protos[@]}"

# Envoy's transcoder needs every imported file, and the google.rpc types to print error details.
"$PY" -m grpc_tools.protoc -I protos -I "$vendor" --include_imports \
  --descriptor_set_out="$OUT/envoy/descriptor.pb" "${protos[@]}" "$vendor/google/rpc/error_details.proto"
# The OpenAPI document, from a descriptor set that keeps the protos' comments (its descriptions).
described=$(mktemp) && trap 'rm -f "$described"' EXIT
"$PY" -m grpc_tools.protoc -I protos -I "$vendor" --include_imports --include_source_info \
  --descriptor_set_out="$described" "${protos[@]}"
"$PY" scripts/gen_openapi.py "$described" "$OUT/envoy/openapi.json" "$OUT/gen/python"
echo "generated under $OUT: gen/python/jan/v1 ($(ls "$OUT"/gen/python/jan/v1/*_pb2.py | wc -l) modules), envoy/descriptor.pb, envoy/openapi.json"
