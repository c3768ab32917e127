"""Validates every manifest of a YAML file against Kubernetes' schemas, strictly (unknown fields are errors).
Runs under .tools/bin/python, where kubernetes-validate is installed:
    python k8s_validate.py manifests.yaml 1.30.0 1.37.0
Prints a JSON list of error messages; an unknown kind is an error too."""

from __future__ import annotations

import json
import sys

import kubernetes_validate
import yaml


def main() -> None:
    path, versions = sys.argv[1], sys.argv[2:]
    with open(path) as f:
        manifests = [m for m in yaml.safe_load_all(f) if m]
    errors = []
    for version in versions:
        for manifest in manifests:
            name = f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = ".".join(str(p) for p in exc.path)
                errors.append(f"{version} {name}: {where}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                errors.append(f"{version} {name}: {exc.message}")
    json.dump(errors, sys.stdout)


if __name__ == "__main__":
    main()
