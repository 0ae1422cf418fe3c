#!/usr/bin/env bash
# Renders every k8s overlay with kustomize (kubectl's built-in) and validates
# each object against the Kubernetes schemas (kubernetes-validate, strict).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

command -v kubectl >/dev/null || die "kubectl (with kustomize ≥ v5) is needed to render k8s/ overlays"
if [ ! -x "$DEV/venv/bin/kubernetes-validate" ]; then
  log "installing kubernetes-validate (PyPI) into .dev/venv"
  python3 -m venv "$DEV/venv"
  "$DEV/venv/bin/pip" install --quiet kubernetes-validate
fi

mkdir -p "$DEV/k8s"
for overlay in k8s/overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" >"$DEV/k8s/$name.yaml"
  # kubernetes-validate exits non-zero on any invalid object.
  "$DEV/venv/bin/kubernetes-validate" --strict --quiet "$DEV/k8s/$name.yaml"
  log "k8s overlay $name: $(grep -c '^kind:' "$DEV/k8s/$name.yaml") objects render and validate"
done
