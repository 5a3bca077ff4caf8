#!/usr/bin/env bash
# The locally built Pulumi tools as an image, for the API image's PULUMI_SOURCE=local
# (Dockerfile): dbaas-e2e/pulumi:<version> is FROM scratch with /opt/pulumi/ holding
#   pulumi, pulumi-language-nodejs, pulumi-resource-pulumi-nodejs, pulumi-resource-kubernetes,
#   pulumi-resource-docker (the Dockerfile's PULUMI_PLUGINS)
# as scripts/e2e/tools.sh built them (found on PATH; .e2e/env.tools is sourced when present).
# The API image then builds with no download from GitHub:
#   DOCKER_BUILDKIT=1 /usr/bin/docker build --network host --build-arg NODE_IMAGE=dbaas-e2e/node:20 \
#     --build-arg PULUMI_SOURCE=local --build-arg PULUMI_LOCAL_IMAGE=dbaas-e2e/pulumi:3.248.0 \
#     --build-arg PULUMI_VERSION=3.248.0 .
# Rebuilt only when a binary changed (content tag <version>-<hash of the binaries>).
# Prints "<content ref> built|cached" on stdout. Run by `scripts/e2e/docker.sh images`
# and by test/e2e/apiImage.e2e.test.ts.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
readonly CACHE_ROOT="${DBAAS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dbaas/e2e}"
readonly CONTEXT="$CACHE_ROOT/build/pulumi-tools"
readonly REPO=dbaas-e2e/pulumi
readonly TOOLS=(pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-resource-kubernetes pulumi-resource-docker)
DOCKER_CLI=/usr/bin/docker
[ -x "$DOCKER_CLI" ] || DOCKER_CLI=docker
readonly DOCKER_CLI
export DOCKER_HOST="${DOCKER_HOST:-unix://$CACHE_ROOT/run/docker.sock}"

die() {
    printf '%s\n' "pulumi-image.sh: $*" >&2
    exit 1
}

# A tool on PATH, skipping node_modules/.bin (the npm `pulumi` package there is a downloader).
find_tool() {
    local dir
    local IFS=:
    for dir in $PATH; do
        case "/$dir/" in */node_modules/*) continue ;; esac
        if [ -n "$dir" ] && [ -x "$dir/$1" ]; then
            readlink -f "$dir/$1"
            return 0
        fi
    done
    return 1
}

# Copies (hard links when on the same file system) the tools into the build context.
prepare_context() {
    local tool src
    rm -rf "$CONTEXT"
    mkdir -p "$CONTEXT/opt/pulumi" || die "cannot create $CONTEXT; check DBAAS_E2E_CACHE and its permissions"
    for tool in "${TOOLS[@]}"; do
        src="${SOURCES[$tool]}"
        ln "$src" "$CONTEXT/opt/pulumi/$tool" 2>/dev/null || cp "$src" "$CONTEXT/opt/pulumi/$tool" \
            || die "cannot copy $src into $CONTEXT (check free space)"
    done
    printf '%s\n' \
        "# Written by scripts/e2e/pulumi-image.sh: the locally built Pulumi tools." \
        "FROM scratch" \
        "COPY opt/pulumi/ /opt/pulumi/" >"$CONTEXT/Dockerfile"
}

main() {
    if [ -f "$REPO_ROOT/.e2e/env.tools" ]; then
        # shellcheck source=/dev/null
        . "$REPO_ROOT/.e2e/env.tools"
    fi
    declare -gA SOURCES=()
    local tool path
    for tool in "${TOOLS[@]}"; do
        path="$(find_tool "$tool")" || die "$tool is not on PATH: run npm run e2e:up (scripts/e2e/tools.sh builds it), then . .e2e/env"
        SOURCES[$tool]="$path"
    done
    local version
    version="$("${SOURCES[pulumi]}" version)" || die "${SOURCES[pulumi]} version failed; rebuild it with scripts/e2e/tools.sh"
    version="${version#v}"
    [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "${SOURCES[pulumi]} reports version '$version', expected x.y.z; rebuild it with scripts/e2e/tools.sh"
    "$DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1 \
        || die "no Docker daemon answers at $DOCKER_HOST; run scripts/e2e/docker.sh up"

    local h ref
    h="$(for tool in "${TOOLS[@]}"; do printf '%s ' "$tool"; sha256sum <"${SOURCES[$tool]}"; done | sha256sum | cut -c1-16)"
    ref="$REPO:$version-$h"
    if "$DOCKER_CLI" image inspect "$ref" >/dev/null 2>&1; then
        "$DOCKER_CLI" tag "$ref" "$REPO:$version"
        printf '%s cached\n' "$ref"
        return 0
    fi
    prepare_context
    local log="$CACHE_ROOT/build/pulumi-tools.log"
    DOCKER_BUILDKIT=1 "$DOCKER_CLI" build --progress plain --label "io.dbaas.e2e.inputs=$h" \
        -t "$ref" -t "$REPO:$version" "$CONTEXT" >"$log" 2>&1 \
        || die "docker build of $ref failed: $(grep -m1 -E 'ERROR|error:' "$log" || tail -n 1 "$log"); see $log"
    rm -rf "$CONTEXT"
    # Superseded content tags of this version.
    local old
    for old in $("$DOCKER_CLI" image ls --format '{{.Repository}}:{{.Tag}}' "$REPO"); do
        case "$old" in "$REPO:$version-"*) [ "$old" = "$ref" ] || "$DOCKER_CLI" rmi "$old" >/dev/null 2>&1 || true ;; esac
    done
    printf '%s built\n' "$ref"
}

main "$@"
