# shellcheck shell=bash
# Sourced by tools.sh and docker-provider.sh: finds the go command and points
# its module and build caches at TOOLS_DIR/go, outside the clone, so a fresh
# clone on the same machine reuses them. The caller defines fail() and sets
# TOOLS_DIR and GO_BIN="" before the first call.

# setup_go MOD: MOD is go's -mod mode (readonly for our own wrapper modules,
# mod where the build edits a copied module's requirements). Locates go only
# when something has to be built, so a warm run needs no Go at all.
setup_go() {
  local mod=$1
  [ -z "$GO_BIN" ] || return 0
  if [ -n "${DBAAS_GO:-}" ]; then
    GO_BIN="$DBAAS_GO"
  elif command -v go >/dev/null 2>&1; then
    GO_BIN="$(command -v go)"
  elif [ -x /usr/local/go/bin/go ]; then
    GO_BIN=/usr/local/go/bin/go
  else
    fail "no go command found (install Go 1.25+ or set DBAAS_GO=/path/to/go)"
  fi
  "$GO_BIN" version >/dev/null 2>&1 || fail "$GO_BIN does not run (check DBAAS_GO / the Go install)"
  export GOPATH="$TOOLS_DIR/go"
  export GOMODCACHE="$TOOLS_DIR/go/pkg/mod"
  export GOCACHE="$TOOLS_DIR/go/cache"
  export GOFLAGS="-buildvcs=false -mod=$mod"
  export GOWORK=off
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
  mkdir -p "$GOMODCACHE" "$GOCACHE" || fail "cannot create Go caches under $TOOLS_DIR/go (check DBAAS_TOOLS_DIR is writable)"
}
