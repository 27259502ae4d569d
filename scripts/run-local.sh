#!/usr/bin/env bash
# `make run`: the whole portal on this machine. Builds the workspace, starts DynamoDB
# Local with its data under .porchlight/dynamodb, runs porchlight-local in the
# foreground, and stops the engine again however porchlight-local ends.
#
# PORCHLIGHT_PORT (default 3000) is the portal's port, PORCHLIGHT_DYNAMODB_PORT (default
# 8000) the engine's, PORCHLIGHT_SAMPLE_DIR (default ../shared/data/qbo-sample) the demo
# data. DynamoDB Local listens on every interface, not only 127.0.0.1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export PORCHLIGHT_PORT="${PORCHLIGHT_PORT:-3000}"
export PORCHLIGHT_DYNAMODB_PORT="${PORCHLIGHT_DYNAMODB_PORT:-8000}"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$PORCHLIGHT_DYNAMODB_PORT"
# DynamoDB Local accepts any credentials. Setting them (when unset) also keeps the SDK
# from looking for instance credentials on the network.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_EC2_METADATA_DISABLED=true

# The demo company comes from the sample data beside the repository; say so before a
# build of several minutes, not after it.
sample="${PORCHLIGHT_SAMPLE_DIR:-$root/../shared/data/qbo-sample}"
if [[ ! -f "$sample/customers.json" ]]; then
    echo "make run: the demo company's sample data is not at $sample" >&2
    echo "make run: set PORCHLIGHT_SAMPLE_DIR to a QuickBooks export (the folder with" \
        "customers.json), or clone beside ../shared" >&2
    exit 1
fi

cargo build --locked

state="$root/.porchlight"
pidfile="$state/dynamodb-local.pid"
mkdir -p "$state"
scripts/dynamodb-local.sh fetch >/dev/null

scripts/dynamodb-local.sh start "$PORCHLIGHT_DYNAMODB_PORT" "$state/dynamodb" "$pidfile" \
    "$state/dynamodb-local.log"

# Installed only now: a start that failed (say, because another `make run` holds the
# port) must not stop the engine that the other run owns.
app=""
# shellcheck disable=SC2317 # reached through the EXIT trap
stop_all() {
    if [[ -n "$app" ]]; then
        kill -TERM "$app" 2>/dev/null || true
        wait "$app" 2>/dev/null || true
    fi
    scripts/dynamodb-local.sh stop "$pidfile"
}
trap stop_all EXIT
# Turn Ctrl-C and kill into a normal exit so the EXIT trap runs, once.
trap 'exit 130' INT
trap 'exit 143' TERM

# In the background and waited for, because bash runs traps only after a foreground
# child ends: a TERM sent to this script alone would otherwise leave both running.
"${CARGO_TARGET_DIR:-target}/debug/porchlight-local" &
app=$!
status=0
wait "$app" || status=$?
app=""
exit "$status"
