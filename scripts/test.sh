#!/usr/bin/env bash
# `make test`: every test, with what it needs. Starts an in-memory DynamoDB Local on a
# free port, runs the workspace's tests against it, lints template.yaml, and stops the
# engine whatever happened. Exits non-zero if any step failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

free_port() {
    if command -v python3 >/dev/null; then
        # The kernel's choice of port is free now; the engine takes it a moment later.
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
        return
    fi
    local port
    for port in $(seq 8100 8199); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "test.sh: no free port in 8100..8199" >&2
    return 1
}

# Tests reach the engine only through PORCHLIGHT_TEST_DYNAMODB_ENDPOINT; these keep any
# SDK default chain from looking for real credentials on the network.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_EC2_METADATA_DISABLED=true

state="$root/.porchlight/test"
mkdir -p "$state"
scripts/dynamodb-local.sh fetch >/dev/null

port="$(free_port)"
pidfile="$state/dynamodb-local-$port.pid"
scripts/dynamodb-local.sh start "$port" --in-memory "$pidfile" "$state/dynamodb-local-$port.log"
# After start: a failed start has already cleaned up after itself.
trap 'scripts/dynamodb-local.sh stop "$pidfile"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export PORCHLIGHT_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"

# Run both checks even when the first fails, so one run reports everything.
status=0
cargo test --locked --workspace --no-fail-fast || status=1
cfn-lint template.yaml || status=1
# SAM's own checks of the transform; it needs no AWS credentials or network.
SAM_CLI_TELEMETRY=0 sam validate --lint --region us-east-1 --template-file template.yaml \
    || status=1
exit "$status"
