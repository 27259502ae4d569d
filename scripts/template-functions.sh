#!/usr/bin/env bash
# Sourced by scripts/package.sh and scripts/bench.sh: which Lambda functions template.yaml
# declares, and which of them the workspace builds. Run from the repository root.

# The template's `BuildProperties: Binary:` entries, one per line, in template order.
template_binaries() {
    sed -n 's/^[[:space:]]*Binary:[[:space:]]*\([A-Za-z0-9_.-]*\)[[:space:]]*$/\1/p' \
        template.yaml
}

# Every bin target of the workspace, one per line.
workspace_binaries() {
    cargo metadata --locked --no-deps --format-version 1 | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    for target in package["targets"]:
        if "bin" in target["kind"]:
            print(target["name"])'
}

# Splits the template's binaries into the arrays `declared`, `binaries` (built by a
# workspace crate) and `missing` (declared, but no crate builds them).
split_template_binaries() {
    local known binary
    mapfile -t declared < <(template_binaries)
    known="$(workspace_binaries)"
    binaries=()
    missing=()
    for binary in "${declared[@]}"; do
        if grep -qxF "$binary" <<<"$known"; then
            binaries+=("$binary")
        else
            missing+=("$binary")
        fi
    done
}
