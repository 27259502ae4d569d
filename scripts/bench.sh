#!/usr/bin/env bash
# `make bench`: the benchmarks, each printing its figures next to a baseline measured in
# the same run; none of them asserts anything about speed.
#
#   sweep_reads  the sweep's reads against a full scan
#   cold_start   each function's release binary, spawn to first response, under a local
#                Lambda runtime API emulator, against a hello-world lambda_runtime binary
#   portal_page  handler time, DynamoDB requests, read capacity and size of the portal
#                home at 10, 200 and 1,000 documents, against the portal's 404 page
#   memory       peak RSS of the portal's release binary over 1,000 views, against the
#                hello-world binary
#   load         the release local stack under wrk on a signed-in client's home, against
#                its 404 page
#   cost         a cost estimate per million views from the figures above
#
# Builds, in release, the template's functions, hello-baseline and porchlight-local into
# the usual target directory ($CARGO_TARGET_DIR or target/, under release/); the benches
# themselves are built with the dev profile, so they reuse `make test`'s build. Installs
# Debian's wrk if it is missing. Starts an in-memory DynamoDB Local on a free port and
# stops it, and everything the benches start, whatever happens. Servers listen on
# 127.0.0.1 only (DynamoDB Local has no bind option: it listens on every interface).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started="$(date +%s)"

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_EC2_METADATA_DISABLED=true

state="$root/.porchlight/bench"
mkdir -p "$state"

if ! command -v wrk >/dev/null; then
    echo "bench: wrk is missing; installing Debian's wrk with apt-get" >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2
fi

# shellcheck source=scripts/template-functions.sh
source "$root/scripts/template-functions.sh"
split_template_binaries
if ((${#missing[@]} > 0)); then
    echo "bench: template.yaml declares ${missing[*]}, which no workspace crate builds;" \
        "left out of the cold start benchmark" >&2
fi
build_args=(--bin hello-baseline --bin porchlight-local)
for binary in "${binaries[@]}"; do
    build_args+=(--bin "$binary")
done
echo "bench: cargo build --release --locked ${build_args[*]}" >&2
build_started="$(date +%s)"
cargo build --release --locked "${build_args[@]}"
echo "bench: release build took $(($(date +%s) - build_started)) s" >&2
export PORCHLIGHT_BENCH_RELEASE_DIR="${CARGO_TARGET_DIR:-$root/target}/release"
export PORCHLIGHT_BENCH_FUNCTIONS="${binaries[*]}"
export PORCHLIGHT_BENCH_STATE="$state"
# Figures of an earlier run must not feed this run's cost estimate.
rm -rf "$state/figures" "$state/logs"

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

# cargo runs the benches of one invocation in the order of their names, not of the flags,
# so the cost estimate, which reads the others' figures, gets an invocation of its own.
cargo bench --locked --profile dev -p porchlight-tests --bench sweep_reads \
    --bench cold_start --bench portal_page --bench memory --bench load
cargo bench --locked --profile dev -p porchlight-tests --bench cost

echo "bench: make bench took $(($(date +%s) - started)) s in all" >&2
