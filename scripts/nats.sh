#!/usr/bin/env bash
# A throwaway NATS server with JetStream for the tests (used by scripts/test and CI).
#
#   bash scripts/nats.sh start <dir> [port]   # prints the server's URL as its last stdout line,
#                                             # and writes <dir>/url, <dir>/port, <dir>/pid
#   bash scripts/nats.sh stop <dir>           # stops that server and removes <dir>
#
# The server listens on 127.0.0.1 only, on a free port (or the one given, to start a stopped
# server again where its clients expect it), and keeps JetStream's files in <dir>/jetstream.
# If nats-server is missing and we are root, Debian's nats-server package is installed with
# apt (its own service is not started).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

me="nats.sh"
die() { echo "$me: $*" >&2; exit 1; }
usage() { echo "usage: bash scripts/nats.sh start <dir> [port] | stop <dir>" >&2; exit 2; }

[ $# -ge 2 ] || usage
cmd=$1 dir=$2 port=${3:-}
case $cmd in start | stop) ;; *) usage ;; esac
case $dir in /*) ;; *) dir="$PWD/$dir" ;; esac
dir=${dir%/}
[ -n "$dir" ] || die "refusing to use / as the server's directory"
marker="$dir/.factum-nats" # marks a directory this script owns (and may delete)

install_nats() {
  echo "$me: nats-server not found, installing Debian's nats-server package" >&2
  local policy=/usr/sbin/policy-rc.d added_policy="" rc=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && added_policy=1; fi
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nats-server; } >&2 || rc=$?
  if [ -n "$added_policy" ]; then rm -f "$policy"; fi
  return "$rc"
}


do_stop() {
  [ -d "$dir" ] || return 0
  if [ ! -e "$marker" ] && [ -n "$(ls -A "$dir")" ]; then die "$dir was not made by $me, not removing it"; fi
  if [ -f "$dir/pid" ]; then
    local pid
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

if [ "$cmd" = stop ]; then do_stop; exit 0; fi

if ! command -v nats-server >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    install_nats || die "installing nats-server failed"
  else
    die "nats-server is not installed (as root, this script installs Debian's nats-server package)"
  fi
fi

if [ -e "$dir" ] && [ ! -e "$marker" ] && [ -n "$(ls -A "$dir")" ]; then die "$dir exists and was not made by $me"; fi
mkdir -p "$dir/jetstream" && touch "$marker"
[ -n "$port" ] || port=$(free_port) || die "no free port found"
# setsid: the server outlives this script, and a Ctrl-C of the caller's terminal.
setsid nats-server --jetstream --addr 127.0.0.1 --port "$port" --store_dir "$dir/jetstream" \
  --pid "$dir/pid" --log "$dir/log" < /dev/null > /dev/null 2>&1 &
for _ in $(seq 1 100); do
  if grep -q "Server is ready" "$dir/log" 2>/dev/null; then
    echo "$port" > "$dir/port"
    echo "nats://127.0.0.1:$port" > "$dir/url"
    echo "$me: $(nats-server --version) with JetStream on 127.0.0.1:$port, files in $dir" >&2
    echo "nats://127.0.0.1:$port"
    exit 0
  fi
  sleep 0.1
done
cat "$dir/log" >&2 2>/dev/null || true
die "nats-server did not become ready on 127.0.0.1:$port (its log is above)"
