#!/usr/bin/env bash
# Smoke check of what scripts/e2e/tools.sh built (docs/engine-tools.md), with a file backend and
# a private PULUMI_HOME in a temp dir (nothing outside it is written; no server is left running):
#   1. pulumi version
#   2. a Node.js program (zero resources, one output): stack init, up, stack output
#   3. pulumi plugin ls
#   4. pulumi preview --policy-pack policies (the repository's CrossGuard pack)
#   5. a dynamic resource (pulumi-resource-pulumi-nodejs), up and destroy
#   6. pulumi-resource-kubernetes in render mode (a ConfigMap written as YAML, no cluster)
#   7. the repository's project: Pulumi.yaml + Pulumi.dev.yaml copied to a temp dir,
#      stack init dev, pulumi config --stack dev --show-secrets=false
# Usage: scripts/e2e/tools-smoke.sh [ENV_FILE]   (ENV_FILE as written by tools.sh --env;
#        without it, tools.sh is run first)
# Environment: DBAAS_SMOKE_KEEP=1 keeps the temp dir.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
WORK=""
FAILED=0

fail() {
  echo "tools-smoke: FAIL: $*" >&2
  exit 1
}

step() {
  echo "tools-smoke: --- $*" >&2
}

cleanup() {
  if [ -n "$WORK" ] && [ "${DBAAS_SMOKE_KEEP:-}" != 1 ]; then
    rm -rf "$WORK"
  fi
}

load_env() {
  local env_file="${1:-}"
  if [ -z "$env_file" ]; then
    env_file="$WORK/tools.env"
    "$SCRIPT_DIR/tools.sh" --env "$env_file" || fail "scripts/e2e/tools.sh failed (see its last line)"
  fi
  [ -f "$env_file" ] || fail "$env_file does not exist (write it with scripts/e2e/tools.sh --env FILE)"
  # shellcheck disable=SC1090
  . "$env_file"
  command -v pulumi >/dev/null || fail "pulumi is not on PATH after sourcing $env_file (check tools.sh output)"
  [ -d "$REPO_ROOT/node_modules/@pulumi/pulumi" ] || fail "$REPO_ROOT/node_modules/@pulumi/pulumi is missing (run npm ci)"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export PULUMI_CONFIG_PASSPHRASE=x
  export PULUMI_HOME="$WORK/pulumi-home"
  unset PULUMI_BACKEND_URL PULUMI_ACCESS_TOKEN
  mkdir -p "$WORK/state" "$PULUMI_HOME"
  pulumi login "file://$WORK/state" >/dev/null || fail "pulumi login file://$WORK/state failed"
}

check_version() {
  step "pulumi version"
  local v
  v="$(pulumi version)" || fail "pulumi version failed (check $(command -v pulumi))"
  echo "pulumi $v at $(command -v pulumi)"
  echo "language host: $(command -v pulumi-language-nodejs || echo 'not on PATH')"
  echo "pulumi-resource-pulumi-nodejs: $(command -v pulumi-resource-pulumi-nodejs || echo 'not on PATH')"
  echo "pulumi-resource-kubernetes: $(command -v pulumi-resource-kubernetes || echo 'not on PATH')"
}

# A project dir whose node_modules is the repository's.
make_project() {
  local dir="$1" name="$2" program="$3"
  mkdir -p "$dir"
  ln -s "$REPO_ROOT/node_modules" "$dir/node_modules"
  printf 'name: %s\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n' "$name" >"$dir/Pulumi.yaml"
  printf '{ "name": "%s", "version": "0.0.0", "main": "index.js" }\n' "$name" >"$dir/package.json"
  printf '%s\n' "$program" >"$dir/index.js"
}

# In the project DIR: stack init, up, then stack output NAME must be WANT; HINT says what to check.
up_and_expect() {
  local dir=$1 name=$2 want=$3 hint=$4 out
  (
    cd "$dir"
    pulumi stack init t --non-interactive || fail "pulumi stack init t in $dir failed"
    pulumi up --yes --non-interactive --skip-preview || fail "pulumi up in $dir failed ($hint)"
    out="$(pulumi stack output "$name")" || fail "pulumi stack output $name in $dir failed"
    [ "$out" = "$want" ] || fail "stack output $name is '$out', expected '$want'"
    echo "stack output $name = $out"
  )
}

check_up() {
  step "nodejs program: stack init, up (no resources, one output), stack output"
  local dir="$WORK/hello"
  make_project "$dir" smoke-hello 'exports.greeting = require("@pulumi/pulumi").output("hello from pulumi");'
  up_and_expect "$dir" greeting "hello from pulumi" "language host: $(command -v pulumi-language-nodejs)"
  (cd "$dir" && pulumi stack output --json)
}

check_plugins() {
  step "pulumi plugin ls"
  pulumi plugin ls || fail "pulumi plugin ls failed"
}

check_policy_pack() {
  step "policy pack: pulumi preview --policy-pack policies (runs through the language host's RunPlugin)"
  (
    cd "$WORK/hello"
    pulumi preview --non-interactive --policy-pack "$REPO_ROOT/policies" || fail "pulumi preview --policy-pack $REPO_ROOT/policies failed"
  )
}

check_dynamic_provider() {
  step "dynamic provider: one dynamic resource (pulumi-resource-pulumi-nodejs)"
  local dir="$WORK/dynamic"
  make_project "$dir" smoke-dynamic 'const pulumi = require("@pulumi/pulumi"); class R extends pulumi.dynamic.Resource { constructor(n) { super({ async create() { return { id: "r1", outs: { v: 42 } }; } }, n, { v: undefined }); } } exports.v = new R("r").v;'
  up_and_expect "$dir" v 42 "pulumi-resource-pulumi-nodejs: $(command -v pulumi-resource-pulumi-nodejs)"
  (cd "$dir" && pulumi destroy --yes --non-interactive --skip-preview >/dev/null) || fail "pulumi destroy of the dynamic resource failed"
}

check_kubernetes() {
  step "pulumi-resource-kubernetes: render a ConfigMap to YAML (no cluster)"
  local dir="$WORK/k8s"
  command -v pulumi-resource-kubernetes >/dev/null || {
    echo "skipped: pulumi-resource-kubernetes is not on PATH"
    return 0
  }
  make_project "$dir" smoke-k8s 'const k8s = require("@pulumi/kubernetes"); const p = new k8s.Provider("render", { renderYamlToDirectory: __dirname + "/rendered" }); new k8s.core.v1.ConfigMap("cm", { metadata: { name: "smoke" }, data: { a: "b" } }, { provider: p }); exports.ok = true;'
  (
    cd "$dir"
    pulumi stack init t --non-interactive || fail "pulumi stack init t (k8s) failed"
    pulumi up --yes --non-interactive --skip-preview || fail "pulumi up with pulumi-resource-kubernetes failed"
    grep -rl 'name: smoke' rendered >/dev/null || fail "no rendered ConfigMap under $dir/rendered"
    echo "rendered: $(find rendered -type f | tr '\n' ' ')"
  )
}

# Reads the repository's dev stack config as a developer would (errors are reported, not fatal).
check_project_config() {
  step "repository project: stack init dev, pulumi config --stack dev --show-secrets=false"
  local dir="$WORK/project"
  mkdir -p "$dir"
  cp "$REPO_ROOT/Pulumi.yaml" "$REPO_ROOT/Pulumi.dev.yaml" "$dir/"
  ln -s "$REPO_ROOT/node_modules" "$dir/node_modules"
  (
    cd "$dir"
    # Pulumi.yaml's backend.url (file://./.pulumi-state) wins over `pulumi login`; the file
    # backend does not create its directory, so a fresh clone needs it made first.
    if ! pulumi stack init dev --non-interactive; then
      echo "tools-smoke: NOTE: stack init dev failed in a fresh copy; retrying after mkdir .pulumi-state" >&2
      mkdir -p .pulumi-state
      pulumi stack init dev --non-interactive || {
        echo "tools-smoke: NOTE: pulumi stack init dev failed in a copy of the project" >&2
        exit 1
      }
    fi
    pulumi config --stack dev --show-secrets=false || {
      echo "tools-smoke: NOTE: pulumi config --stack dev failed" >&2
      exit 1
    }
    echo "backend used: $(pulumi whoami --verbose 2>/dev/null | grep -i 'backend url' || echo '?')"
    [ -d .pulumi-state ] && echo "Pulumi.yaml's backend.url file://./.pulumi-state was used (state in the project copy)"
  ) || FAILED=1
}

main() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/dbaas-tools-smoke.XXXXXX")"
  trap cleanup EXIT
  load_env "${1:-}"
  check_version
  check_up
  check_plugins
  check_policy_pack
  check_dynamic_provider
  check_kubernetes
  check_project_config
  if [ "$FAILED" != 0 ]; then
    echo "tools-smoke: engine checks passed; the project config check failed (see NOTE above)" >&2
    exit 2
  fi
  echo "tools-smoke: all checks passed" >&2
}

main "$@"
