#!/usr/bin/env bash
# The one code generator: Python stubs (+ .pyi) in gen/python and Envoy's descriptor set, from protos/.
# Also vendors the googleapis protos we import from the installed googleapis-common-protos wheel, so buf
# resolves them offline. Run through `make proto`; never edit the outputs by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

site=$("$PY" -c 'import google.api, os; print(os.path.dirname(os.path.dirname(os.path.dirname(google.api.__file__))))')
rm -rf third_party/googleapis && mkdir -p third_party/googleapis/google/api third_party/googleapis/google/rpc
for f in api/annotations.proto api/http.proto api/httpbody.proto rpc/status.proto rpc/code.proto rpc/error_details.proto; do
  cp "$site/google/$f" "third_party/googleapis/google/$f"
done

rm -rf gen/python && mkdir -p gen/python/jan/v1
touch gen/python/jan/__init__.py gen/python/jan/v1/__init__.py
protos=(protos/jan/v1/*.proto)
"$PY" -m grpc_tools.protoc -I protos -I third_party/googleapis \
  --python_out=gen/python --pyi_out=gen/python --grpc_python_out=gen/python "${protos[@]}"

# Envoy's transcoder needs every imported file, and google.rpc types to print error details.
"$PY" -m grpc_tools.protoc -I protos -I third_party/googleapis --include_imports \
  --descriptor_set_out=envoy/descriptor.pb "${protos[@]}" third_party/googleapis/google/rpc/error_details.proto
echo "generated: gen/python/jan/v1 ($(ls gen/python/jan/v1/*_pb2.py | wc -l) modules), envoy/descriptor.pb"
