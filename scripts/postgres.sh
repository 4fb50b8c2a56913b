#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (used by scripts/test and CI).
#
#   bash scripts/postgres.sh start <dir>   # prints DATABASE_URL as its last stdout line,
#                                          # and writes <dir>/env, <dir>/port, <dir>/bindir
#   bash scripts/postgres.sh start-tls <dir> # the same, TLS only: also writes <dir>/ca.pem, the
#                                          # root certificate of a throwaway CA
#   bash scripts/postgres.sh stop <dir>    # stops that server and removes <dir>
#
# The server listens on 127.0.0.1 only, on a free port, with trust auth (user postgres,
# database factum). If no server binaries are found and we are root, Debian's postgresql
# package is installed with apt (without letting it create or start a cluster of its own).
# With start-tls, a CA made here with openssl (installed with apt if missing) signs a
# certificate for localhost and 127.0.0.1, and TCP connections without TLS are refused.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shopt -s nullglob

me="postgres.sh"
die() { echo "$me: $*" >&2; exit "${status:-1}"; }
usage() { echo "usage: bash scripts/postgres.sh start|start-tls|stop <dir>" >&2; exit 2; }

[ $# -eq 2 ] || usage
cmd=$1 dir=$2
case $cmd in start | start-tls | stop) ;; *) usage ;; esac
# Absolute path without a trailing slash; refuse "/" and paths that would need quoting.
case $dir in /*) ;; *) dir="$PWD/$dir" ;; esac
dir=${dir%/}
[ -n "$dir" ] || die "refusing to use / as the data directory"
case $dir in *[[:space:]\'\"\\]*) die "the directory must not contain spaces, quotes or backslashes: $dir" ;; esac
cd / # so that commands run as another user always have an accessible working directory
marker="$dir/.factum-postgres" # marks a directory this script owns (and may delete)

# Highest-versioned Debian server bin dir holding both initdb and pg_ctl (empty if none).
find_bindir() {
  local d best=""
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then best=$d; fi
  done
  printf '%s' "$best"
}

# Install Debian's server, telling postgresql-common not to create its "main" cluster and
# forbidding service starts (policy-rc.d exit 101) for the duration of the install.
install_postgres() {
  echo "$me: no PostgreSQL server found, installing Debian's postgresql package" >&2
  local nomain=/etc/postgresql-common/createcluster.d/00-factum-no-main-cluster.conf
  local policy=/usr/sbin/policy-rc.d added_policy="" rc=0
  mkdir -p "${nomain%/*}" && echo "create_main_cluster = false" > "$nomain"
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && added_policy=1; fi
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql; } >&2 || rc=$?
  rm -f "$nomain" && rmdir "${nomain%/*}" 2>/dev/null || true
  if [ -n "$added_policy" ]; then rm -f "$policy"; fi
  return "$rc"
}

# Run a server command as $user (initdb refuses to run as root); as ourselves when not root.
as_user() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi; }


# Stop the server in $dir (if one runs), as the owner of its data, then delete $dir.
do_stop() {
  [ -d "$dir" ] || return 0
  if [ ! -e "$marker" ] && [ -n "$(ls -A "$dir")" ]; then die "$dir was not made by $me, not removing it"; fi
  if [ -f "$dir/data/postmaster.pid" ]; then
    local bindir user
    bindir=$(cat "$dir/bindir" 2>/dev/null || find_bindir)
    user=$(stat -c %U "$dir/data")
    as_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
      as_user "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

if [ "$cmd" = stop ]; then do_stop; exit 0; fi

# --- start ---------------------------------------------------------------------------
started=""
on_exit() {
  local rc=$?
  [ "$rc" -ne 0 ] || return 0
  echo "$me: start failed (status $rc)" >&2
  if [ -s "$dir/server.log" ]; then echo "--- tail of $dir/server.log ---" >&2; tail -n 40 "$dir/server.log" >&2; fi
  if [ -n "$started" ]; then as_user "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; fi
}
trap on_exit EXIT

# 1. Server binaries, installing them with apt if we may.
bindir=$(find_bindir)
if [ -z "$bindir" ]; then
  [ "$(id -u)" -eq 0 ] || status=3 die "no PostgreSQL server found under /usr/lib/postgresql/*/bin (install Debian's postgresql package, or run as root to let this script do it)"
  install_postgres || die "apt-get could not install postgresql"
  bindir=$(find_bindir)
  [ -n "$bindir" ] || die "postgresql was installed but no initdb/pg_ctl found under /usr/lib/postgresql/*/bin"
fi

# A leftover of an earlier run in the same directory is stopped and removed first.
if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  [ -e "$marker" ] || die "$dir exists and is not empty; give an empty or new directory"
  echo "$me: removing the leftover server in $dir" >&2
  do_stop
fi
# The Unix socket ($dir/.s.PGSQL.<port>) must fit in sun_path (107 bytes).
[ ${#dir} -le 90 ] || die "directory path too long for a Unix socket (${#dir} > 90 characters): $dir"
mkdir -p "$dir" && touch "$marker"

# 2. As root, hand the directory to the postgres user (or a dedicated system user).
user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  user=postgres
  if ! id -u "$user" >/dev/null 2>&1; then
    user=factum-pg
    id -u "$user" >/dev/null 2>&1 ||
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
  fi
  chown "$user:" "$dir" && chmod 700 "$dir"
  as_user test -w "$dir" || die "user $user cannot write to $dir (is a parent directory private, e.g. under /root?)"
fi

# 3. A fresh cluster: superuser postgres, no passwords, UTF8, C locale.
as_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; die "initdb failed"; }

# 3b. For start-tls: a throwaway CA, a server certificate it signs (for localhost and
#     127.0.0.1, valid two days), and TLS required on TCP (hostssl only in pg_hba.conf).
tls_opts=""
if [ "$cmd" = start-tls ]; then
  if ! command -v openssl >/dev/null; then
    [ "$(id -u)" -eq 0 ] || status=3 die "openssl is missing (install Debian's openssl package, or run as root to let this script do it)"
    echo "$me: openssl not found, installing Debian's openssl package" >&2
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssl; } >&2 ||
      die "apt-get could not install openssl"
  fi
  tls="$dir/tls" && mkdir -p "$tls"
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  {
    openssl req -x509 "${ec[@]}" -keyout "$tls/ca.key" -out "$dir/ca.pem" -days 2 -subj "/CN=factum throwaway test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
      openssl req -new "${ec[@]}" -keyout "$dir/data/server.key" -out "$tls/server.csr" -subj "/CN=localhost" &&
      printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > "$tls/server.ext" &&
      openssl x509 -req -in "$tls/server.csr" -CA "$dir/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -CAserial "$tls/ca.srl" -days 2 \
        -extfile "$tls/server.ext" -out "$dir/data/server.crt"
  } >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "openssl could not make the certificates"; }
  rm -f "$tls/ca.key" # nothing more is signed with it
  chmod 600 "$dir/data/server.key" && chmod 644 "$dir/ca.pem"
  if [ "$(id -u)" -eq 0 ]; then chown "$user:" "$dir/data/server.key" "$dir/data/server.crt"; fi
  printf '%s\n' "local all all trust" "hostssl all all 127.0.0.1/32 trust" "hostnossl all all 0.0.0.0/0 reject" > "$dir/data/pg_hba.conf"
  tls_opts=" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
fi

# 4. Start on a free port, listening on 127.0.0.1 only; another process may grab the port
#    between our probe and the server's bind, so a few attempts are made.
for attempt in 1 2 3; do
  port=$(free_port) || die "no free TCP port found on 127.0.0.1"
  opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=on -c max_connections=200$tls_opts"
  if as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null; then started=1; break; fi
  [ "$attempt" -lt 3 ] || die "pg_ctl could not start the server"
  echo "$me: start attempt $attempt failed, retrying on another port" >&2
done

# 5. The tests' database.
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres --no-password factum || die "createdb failed"

# 6. Tell the caller where it is.
url="postgres://postgres@127.0.0.1:$port/factum"
echo "export DATABASE_URL=$url" > "$dir/env"
echo "$port" > "$dir/port"
echo "$bindir" > "$dir/bindir"
echo "$me: PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') running on 127.0.0.1:$port, data in $dir" >&2
echo "$url"
