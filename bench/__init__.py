"""Benchmarks: scripts that print numbers (`.venv/bin/python -m bench.<name> --help`; `make bench` runs them
all). Importing the package puts the repository root and the generated stubs (gen/python) on the path, so
`python -m bench.<name>` works from the repository root as it is, without PYTHONPATH."""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _path in (_ROOT, _ROOT / "gen" / "python"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
