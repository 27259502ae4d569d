#!/usr/bin/env bash
# `make package`: every function that template.yaml declares, built in release with
# cargo-lambda into a deployable zip (`bootstrap` inside), then a table of the zips.
#
# The functions are the template's `BuildProperties: Binary:` entries, so a function added
# to the template is packaged without touching this script, and a crate that is not in the
# template (the bench's hello-baseline) is not. x86_64 is always built. arm64 (the
# template's default architecture) is built only where the aarch64-unknown-linux-gnu
# standard library is installed; these machines cannot fetch it, and the script says so.
#
# cargo-lambda comes from PyPI (it brings the zig linker with it) into a virtualenv under
# .porchlight/tools/ when `cargo lambda` is not already installed. CARGO_TARGET_DIR is
# honoured (cargo-lambda's own --target-dir breaks its build, so it is never used); the
# zips land in $CARGO_TARGET_DIR/lambda/<arch>/<binary>/bootstrap.zip. Exits non-zero if
# any build fails or a declared binary is not a bin target of the workspace.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Pinned: the version checked to build offline for x86_64 on these machines.
cargo_lambda_version="1.9.2"
tools="$root/.porchlight/tools/cargo-lambda"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

die() {
    echo "package: $*" >&2
    exit 1
}

# Makes `cargo lambda` runnable, installing it into a private virtualenv if needed. The
# virtualenv's bin/ goes first on PATH so cargo-lambda finds the `python3 -m ziglang` that
# came with it.
ensure_cargo_lambda() {
    if [[ -x "$tools/bin/cargo-lambda" ]]; then
        export PATH="$tools/bin:$PATH"
    fi
    if cargo lambda --version >/dev/null 2>&1; then
        return
    fi
    command -v python3 >/dev/null || die "python3 is needed to install cargo-lambda"
    echo "package: cargo-lambda is missing; installing cargo-lambda==$cargo_lambda_version" \
        "from PyPI into $tools" >&2
    if ! python3 -m venv "$tools" >/dev/null 2>&1; then
        # Debian ships venv separately from python3.
        if command -v apt-get >/dev/null; then
            echo "package: python3 cannot make a virtualenv; installing Debian's python3-venv" >&2
            apt-get update >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv >&2
            rm -rf "$tools"
            python3 -m venv "$tools" || die "could not create a virtualenv at $tools"
        else
            die "python3 cannot make a virtualenv at $tools (install its venv module)"
        fi
    fi
    "$tools/bin/python3" -m pip install --quiet --disable-pip-version-check \
        "cargo-lambda==$cargo_lambda_version" || die "pip could not install cargo-lambda"
    export PATH="$tools/bin:$PATH"
    cargo lambda --version >/dev/null || die "cargo-lambda installed but does not run"
}

# shellcheck source=scripts/template-functions.sh
source "$root/scripts/template-functions.sh"

# build ARCH_FLAG LAMBDA_DIR: every declared binary for one architecture.
build() {
    local flag="$1" dir="$2" args=()
    local binary
    for binary in "${binaries[@]}"; do
        args+=(--bin "$binary")
    done
    echo "package: cargo lambda build --release $flag --output-format zip (into $dir)" >&2
    cargo lambda build --release --locked "$flag" --output-format zip --lambda-dir "$dir" \
        "${args[@]}"
}

# A declared binary that no crate builds fails the run, but only at the end: the others are
# still built, so one run shows everything that is wrong.
split_template_binaries
((${#declared[@]} > 0)) || die "template.yaml declares no BuildProperties: Binary: entries"
((${#binaries[@]} > 0)) || die "no binary that template.yaml declares is built by the workspace"

ensure_cargo_lambda
echo "package: $(cargo lambda --version); functions: ${binaries[*]}" >&2

architectures=(x86_64)
arm64_note=""
if ! command -v rustup >/dev/null; then
    arm64_note="arm64 skipped: rustup is not installed, so the aarch64 target cannot be checked"
elif rustup target list --installed | grep -qx 'aarch64-unknown-linux-gnu'; then
    architectures+=(arm64)
else
    arm64_note="arm64 skipped: the aarch64-unknown-linux-gnu standard library is not \
installed (rustup target add aarch64-unknown-linux-gnu, where the network allows it)"
fi

for arch in "${architectures[@]}"; do
    case "$arch" in
        x86_64) build --x86-64 "$CARGO_TARGET_DIR/lambda/x86_64" ;;
        arm64) build --arm64 "$CARGO_TARGET_DIR/lambda/arm64" ;;
    esac
done

echo
printf '%-8s %-18s %12s %9s  %s\n' arch function bytes MiB zip
for arch in "${architectures[@]}"; do
    for binary in "${binaries[@]}"; do
        zip="$CARGO_TARGET_DIR/lambda/$arch/$binary/bootstrap.zip"
        [[ -f "$zip" ]] || die "cargo-lambda reported success but $zip is missing"
        bytes="$(stat -c %s "$zip")"
        mib="$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')"
        printf '%-8s %-18s %12s %9s  %s\n' "$arch" "$binary" "$bytes" "$mib" \
            "${zip#"$root"/}"
    done
done
if [[ -n "$arm64_note" ]]; then
    echo
    echo "package: $arm64_note"
fi
if ((${#missing[@]} > 0)); then
    echo
    die "FAILED: template.yaml declares ${missing[*]}, which no workspace crate builds \
as a binary (no zip made for it)"
fi
