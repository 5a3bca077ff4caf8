#!/usr/bin/env bash
# Builds the real Pulumi engine pieces the end-to-end tests need, from Go modules, into a
# per-user cache that fresh clones on the same machine reuse (docs/engine-tools.md):
#   pulumi                      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (scripts/e2e/go/pulumi)
#   pulumi-language-nodejs      dbaas's minimal host (scripts/e2e/go/pulumi-language-nodejs)
#   pulumi-resource-pulumi-nodejs  copied from node_modules/@pulumi/pulumi (dynamic providers)
#   pulumi-resource-kubernetes  github.com/pulumi/pulumi-kubernetes/provider/v4 (scripts/e2e/go/pulumi-resource-kubernetes)
#   pulumi-resource-docker      the kreuzwerker Terraform provider bridged here (scripts/e2e/docker-provider.sh)
#
# Usage: scripts/e2e/tools.sh [--env FILE | FILE]
#   Prints the `export PATH=...` line to source, or writes it to FILE.
# Environment:
#   DBAAS_TOOLS_DIR   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/dbaas/tools)
#   DBAAS_GO          go command (default: go on PATH, else /usr/local/go/bin/go)
#   DBAAS_TOOLS_SKIP  space-separated tools not to build: pulumi language-nodejs kubernetes docker
#   GOTOOLCHAIN       passed to go (default local); GOPROXY as usual
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
GO_DIR="$SCRIPT_DIR/go"
TOOLS_DIR="${DBAAS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dbaas/tools}"
SKIP=" ${DBAAS_TOOLS_SKIP:-} "
ENV_FILE=""
PATH_DIRS=()
GO_BIN=""

fail() {
  echo "tools.sh: $*" >&2
  exit 1
}

say() {
  echo "tools.sh: $*" >&2
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --env)
        [ $# -ge 2 ] || fail "--env needs a file name (e.g. --env /tmp/tools.env)"
        ENV_FILE="$2"
        shift 2
        ;;
      --env=*)
        ENV_FILE="${1#--env=}"
        shift
        ;;
      -h | --help)
        sed -n '2,18p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
      -*) fail "unknown option $1 (see --help)" ;;
      *)
        ENV_FILE="$1"
        shift
        ;;
    esac
  done
}

# Reads the version a wrapper module's go.mod requires for a module.
module_version() {
  local gomod="$1" module="$2" v
  v="$(awk -v m="$module" '($1 == m || ($1 == "require" && $2 == m)) { print ($1 == m ? $2 : $3); exit }' "$gomod")"
  [ -n "$v" ] || fail "no version of $module in $gomod (check its require lines)"
  echo "$v"
}

# Short hash of the files a tool is built from, so an edited wrapper gets a new cache entry.
files_hash() {
  cat "$@" | sha256sum | cut -c1-12
}

lock_version() {
  local pkg="$1" lock="$REPO_ROOT/package-lock.json"
  [ -f "$lock" ] || return 0
  node -p "(require(process.argv[1]).packages['node_modules/$pkg'] || {}).version || ''" "$lock" 2>/dev/null || true
}

# setup_go: scripts/e2e/go-env.sh
# shellcheck source=scripts/e2e/go-env.sh
. "$SCRIPT_DIR/go-env.sh"

# go build into a temporary dir, then move the bin dir into place (a failed build leaves nothing).
install_dir() {
  local final="$1" tmp="$2"
  rm -rf "$final"
  mkdir -p "$(dirname "$final")"
  mv "$tmp" "$final" || fail "cannot move $tmp to $final (check free space and permissions in $TOOLS_DIR)"
}

build_pulumi() {
  local v dir tmp found start
  v="$(module_version "$GO_DIR/pulumi/go.mod" github.com/pulumi/pulumi/pkg/v3)"
  PULUMI_VERSION="$v"
  dir="$TOOLS_DIR/pulumi-$v"
  if found="$(command -v pulumi 2>/dev/null)" && [ "$(dirname "$found")" != "$dir/bin" ]; then
    if [ "$("$found" version 2>/dev/null)" = "$v" ]; then
      say "pulumi $v is already on PATH ($found): not building it"
      return 0
    fi
    say "pulumi on PATH ($found) is $("$found" version 2>/dev/null || echo unknown), not $v: using the cached/built $v first"
  fi
  if [ -x "$dir/bin/pulumi" ] && [ "$("$dir/bin/pulumi" version 2>/dev/null)" = "$v" ]; then
    PATH_DIRS+=("$dir/bin")
    return 0
  fi
  setup_go readonly
  say "building pulumi $v (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi); cold: about 20 min on 2 cores"
  start=$SECONDS
  tmp="$(mktemp -d "$TOOLS_DIR/.pulumi-$v.XXXXXX")"
  (cd "$GO_DIR/pulumi" && "$GO_BIN" build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" \
    -o "$tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) ||
    fail "go build of github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$v failed (check the output above, GOPROXY, and $GO_DIR/pulumi/go.mod)"
  [ "$("$tmp/bin/pulumi" version)" = "$v" ] || fail "built pulumi does not report version $v (check the -X ldflags path)"
  install_dir "$dir" "$tmp"
  say "pulumi $v built in $((SECONDS - start)) s -> $dir/bin"
  PATH_DIRS+=("$dir/bin")
}

# A build of BIN keyed by KEY (the VERSION file written with it) already in DIR: put it on PATH.
use_cached_build() {
  local dir=$1 bin=$2 key=$3
  [ -x "$dir/bin/$bin" ] && [ "$(cat "$dir/VERSION" 2>/dev/null)" = "$key" ] || return 1
  PATH_DIRS+=("$dir/bin")
}

build_language_nodejs() {
  local v key dir tmp start
  v="$(module_version "$GO_DIR/pulumi-language-nodejs/go.mod" github.com/pulumi/pulumi/sdk/v3)"
  key="$v-$(files_hash "$GO_DIR/pulumi-language-nodejs/main.go" "$GO_DIR/pulumi-language-nodejs/go.mod" "$GO_DIR/pulumi-language-nodejs/go.sum")"
  dir="$TOOLS_DIR/pulumi-language-nodejs-$key"
  use_cached_build "$dir" pulumi-language-nodejs "$key" && return 0
  setup_go readonly
  say "building pulumi-language-nodejs $key (dbaas minimal host on sdk/v3 $v)"
  start=$SECONDS
  tmp="$(mktemp -d "$TOOLS_DIR/.pulumi-language-nodejs-$key.XXXXXX")"
  (cd "$GO_DIR/pulumi-language-nodejs" && "$GO_BIN" build -trimpath \
    -ldflags "-s -w -X main.version=${v#v}" -o "$tmp/bin/pulumi-language-nodejs" .) ||
    fail "go build of scripts/e2e/go/pulumi-language-nodejs failed (check the output above and its go.mod/go.sum)"
  echo "$key" >"$tmp/VERSION"
  install_dir "$dir" "$tmp"
  say "pulumi-language-nodejs built in $((SECONDS - start)) s -> $dir/bin"
  PATH_DIRS+=("$dir/bin")
}

# The dynamic-provider plugin is a script of the @pulumi/pulumi npm package (the official CLI
# ships it beside pulumi). It runs ./node_modules/@pulumi/pulumi/cmd/dynamic-provider relative
# to the program, so a copy keyed by the npm version serves every clone.
install_nodejs_scripts() {
  local v src dir tmp
  src="$REPO_ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
  v="$(lock_version @pulumi/pulumi)"
  [ -n "$v" ] || fail "no @pulumi/pulumi in package-lock.json (check $REPO_ROOT/package-lock.json)"
  dir="$TOOLS_DIR/pulumi-nodejs-scripts-v$v"
  if [ -x "$dir/bin/pulumi-resource-pulumi-nodejs" ]; then
    PATH_DIRS+=("$dir/bin")
    return 0
  fi
  [ -f "$src" ] || fail "$src is missing (run npm ci first)"
  tmp="$(mktemp -d "$TOOLS_DIR/.pulumi-nodejs-scripts-v$v.XXXXXX")"
  mkdir -p "$tmp/bin"
  if ! cp "$src" "$tmp/bin/" || ! chmod +x "$tmp/bin/pulumi-resource-pulumi-nodejs"; then
    fail "cannot copy $src into $TOOLS_DIR (check permissions)"
  fi
  install_dir "$dir" "$tmp"
  PATH_DIRS+=("$dir/bin")
}

build_kubernetes() {
  local mod v stamp dir tmp src start
  mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  v="$(module_version "$GO_DIR/pulumi-resource-kubernetes/go.mod" "$mod")"
  # The provider has no tags of its own: the plugin reports the pseudo-version it was built from.
  stamp="${v#v}"
  dir="$TOOLS_DIR/pulumi-resource-kubernetes-$v"
  use_cached_build "$dir" pulumi-resource-kubernetes "$v" && return 0
  setup_go readonly
  say "building pulumi-resource-kubernetes $v; cold: about 20-40 min on 2 cores"
  start=$SECONDS
  src="$(cd "$GO_DIR/pulumi-resource-kubernetes" && "$GO_BIN" mod download -json "$mod@$v" | awk -F'"' '/"Dir":/ { print $4 }')" ||
    fail "go mod download $mod@$v failed (check GOPROXY serves it)"
  [ -d "$src/cmd/pulumi-resource-kubernetes" ] || fail "$src/cmd/pulumi-resource-kubernetes is missing (check the module version in $GO_DIR/pulumi-resource-kubernetes/go.mod)"
  tmp="$(mktemp -d "$TOOLS_DIR/.pulumi-resource-kubernetes-$v.XXXXXX")"
  mkdir -p "$tmp/src" "$tmp/bin"
  cp "$src/cmd/pulumi-resource-kubernetes/"* "$GO_DIR/pulumi-resource-kubernetes/go.mod" "$GO_DIR/pulumi-resource-kubernetes/go.sum" "$tmp/src/"
  chmod -R u+w "$tmp/src"
  # main.go embeds schema-embed.json and terraform-mapping-embed.json, which the provider's
  # generate.go (go:generate) writes from the committed schema.json and terraform-mapping.json.
  (cd "$tmp/src" && VERSION="$stamp" "$GO_BIN" run generate.go) ||
    fail "generating the embedded schema of $mod@$v failed (check $tmp/src/generate.go output above)"
  (cd "$tmp/src" && "$GO_BIN" build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$stamp" \
    -o "$tmp/bin/pulumi-resource-kubernetes" .) ||
    fail "go build of $mod@$v failed (check the output above and $GO_DIR/pulumi-resource-kubernetes/go.sum)"
  rm -rf "$tmp/src"
  echo "$v" >"$tmp/VERSION"
  install_dir "$dir" "$tmp"
  say "pulumi-resource-kubernetes built in $((SECONDS - start)) s -> $dir/bin"
  PATH_DIRS+=("$dir/bin")
}

# docker-provider.sh keeps its own cache key (the module versions and its own hash) and prints
# the plugin's bin dir on stdout; its progress and failures go to stderr. Cold: about 9 min.
build_docker_provider() {
  local dir
  dir="$(DBAAS_TOOLS_DIR="$TOOLS_DIR" bash "$SCRIPT_DIR/docker-provider.sh")" ||
    fail "scripts/e2e/docker-provider.sh failed (its last line above names the step; DBAAS_TOOLS_SKIP=docker leaves it out)"
  [ -x "$dir/pulumi-resource-docker" ] || fail "docker-provider.sh printed '$dir', which holds no pulumi-resource-docker (check the script's last step)"
  PATH_DIRS+=("$dir")
}

# The engine looks for its bundled plugins (the nodejs language host, pulumi-resource-pulumi-nodejs)
# beside the pulumi binary before PATH, and warns on every run about plugins taken from PATH:
# link them beside the pulumi that was built here (never into a pulumi installed by the user).
link_bundled() {
  local pulumi_bin="" d tool target
  for d in "${PATH_DIRS[@]}"; do
    [ -x "$d/pulumi" ] && pulumi_bin="$d"
  done
  [ -n "$pulumi_bin" ] || return 0
  for tool in pulumi-language-nodejs pulumi-resource-pulumi-nodejs; do
    target=""
    for d in "${PATH_DIRS[@]}"; do
      [ -x "$d/$tool" ] && [ "$d" != "$pulumi_bin" ] && target="$d/$tool"
    done
    [ -n "$target" ] || continue
    [ "$(readlink "$pulumi_bin/$tool" 2>/dev/null)" = "$target" ] && continue
    ln -sfn "$target" "$pulumi_bin/$tool" || fail "cannot link $target into $pulumi_bin (check permissions)"
  done
}

check_lock_versions() {
  local want
  want="$(lock_version @pulumi/pulumi)"
  if [ -n "$want" ] && [ "v$want" != "$PULUMI_VERSION" ]; then
    say "note: package-lock.json has @pulumi/pulumi $want, the CLI built is $PULUMI_VERSION (scripts/e2e/go/pulumi/go.mod)"
  fi
}

write_env() {
  local joined="" d line
  for d in "${PATH_DIRS[@]}"; do
    joined="${joined:+$joined:}$d"
  done
  line="export PATH=\"$joined\${PATH:+:\$PATH}\""
  [ -n "$joined" ] || line="# pulumi tools: nothing to add to PATH"
  if [ -n "$ENV_FILE" ]; then
    mkdir -p "$(dirname "$ENV_FILE")"
    printf '%s\n' "$line" >"$ENV_FILE" || fail "cannot write $ENV_FILE"
    say "wrote $ENV_FILE"
  else
    printf '%s\n' "$line"
  fi
}

main() {
  parse_args "$@"
  mkdir -p "$TOOLS_DIR" || fail "cannot create $TOOLS_DIR (set DBAAS_TOOLS_DIR to a writable dir)"
  command -v node >/dev/null 2>&1 || fail "node is not on PATH (the Node.js host and scripts need it)"
  PULUMI_VERSION=""
  case "$SKIP" in *" pulumi "*) ;; *) build_pulumi ;; esac
  case "$SKIP" in *" language-nodejs "*) ;; *)
    build_language_nodejs
    install_nodejs_scripts
    ;;
  esac
  case "$SKIP" in *" kubernetes "*) ;; *) build_kubernetes ;; esac
  case "$SKIP" in *" docker "*) ;; *) build_docker_provider ;; esac
  [ -z "$PULUMI_VERSION" ] || check_lock_versions
  link_bundled
  write_env
}

main "$@"
