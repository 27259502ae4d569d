#!/usr/bin/env bash
# `make bench`: the benchmarks, each printing its figures and its ratio against a baseline
# run in the same process. Starts an in-memory DynamoDB Local on a free port for them and
# stops it whatever happened. Built with the test profile, so it reuses `make test`'s build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_EC2_METADATA_DISABLED=true

state="$root/.porchlight/bench"
mkdir -p "$state"
scripts/dynamodb-local.sh fetch >/dev/null
port="$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')"
pidfile="$state/dynamodb-local-$port.pid"
scripts/dynamodb-local.sh start "$port" --in-memory "$pidfile" "$state/dynamodb-local-$port.log"
trap 'scripts/dynamodb-local.sh stop "$pidfile"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export PORCHLIGHT_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"

cargo bench --locked --profile dev -p porchlight-tests --bench sweep_reads
