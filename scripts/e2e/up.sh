#!/usr/bin/env bash
# npm run e2e:up — brings up every real engine the e2e tier uses and writes .e2e/env:
#   1. the Pulumi CLI, our Node.js language host, the kubernetes provider and the docker
#      provider (tools.sh, docker-provider.sh; built from Go modules into the tools cache,
#      or the official CLI if it is on PATH);
#   2. a Kubernetes control plane on 127.0.0.1 (kube.sh: real etcd, API server,
#      controller-manager, scheduler; kwok plays the kubelets);
#   3. a private Docker engine and the local stand-in images (docker.sh).
# Then `source .e2e/env` gives PATH, KUBECONFIG, DOCKER_HOST, the Pulumi backend and
# passphrase file for working by hand. `npm run e2e:down` stops it all.
# DBAAS_E2E_PARTS (default "tools kube docker") picks a subset.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=$ROOT/.e2e
PARTS=${DBAAS_E2E_PARTS:-tools kube docker}

die() {
  echo "e2e:up: $*" >&2
  exit 1
}

has_part() {
  [[ " $PARTS " == *" $1 "* ]]
}

step() {
  local started=$SECONDS
  echo "e2e:up: $1 ..." >&2
  shift
  "$@" || die "$* failed: see the lines above"
  echo "e2e:up: done in $((SECONDS - started)) s" >&2
}

engine_tools() {
  step "engine tools (Pulumi CLI, language host, kubernetes and docker providers)" \
    bash "$ROOT/scripts/e2e/tools.sh" --env "$STATE/env.tools"
}

control_plane() {
  step "building the Kubernetes control plane" bash "$ROOT/scripts/e2e/kube.sh" build
  if bash "$ROOT/scripts/e2e/kube.sh" status "$STATE/kube" >/dev/null 2>&1; then
    echo "e2e:up: the control plane in $STATE/kube is already running" >&2
  else
    step "starting the Kubernetes control plane" bash "$ROOT/scripts/e2e/kube.sh" up "$STATE/kube"
  fi
}

docker_engine() {
  step "starting the private Docker engine" bash "$ROOT/scripts/e2e/docker.sh" up
  step "building the stand-in images" bash "$ROOT/scripts/e2e/docker.sh" images
}

# The Pulumi backend and passphrase of by-hand and test runs: private, under .e2e/.
pulumi_state() {
  mkdir -p "$STATE/pulumi-state"
  chmod 700 "$STATE" "$STATE/pulumi-state"
  if [[ ! -s $STATE/pulumi-passphrase ]]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$STATE/pulumi-passphrase")
  fi
}

write_env() {
  local env=$STATE/env
  {
    echo "# Written by npm run e2e:up ($(date -u +%FT%TZ)); source it: . .e2e/env"
    has_part tools && cat "$STATE/env.tools"
    has_part kube && cat "$STATE/kube/env"
    has_part docker && cat "$STATE/env.docker"
    echo "export PULUMI_BACKEND_URL=file://$STATE/pulumi-state"
    echo "export PULUMI_CONFIG_PASSPHRASE_FILE=$STATE/pulumi-passphrase"
    echo "export DBAAS_PULUMI_PASSPHRASE_FILE=$STATE/pulumi-passphrase"
    echo "export PULUMI_SKIP_UPDATE_CHECK=true"
    echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
    echo "export DBAAS_E2E_PARTS=\"$PARTS\""
  } >"$env.tmp"
  mv "$env.tmp" "$env"
  echo "e2e:up: wrote $env (parts: $PARTS); use it with: . .e2e/env" >&2
}

main() {
  mkdir -p "$STATE"
  local part
  for part in $PARTS; do
    case $part in
      tools) engine_tools ;;
      kube) control_plane ;;
      docker) docker_engine ;;
      *) die "unknown part '$part' in DBAAS_E2E_PARTS: expected tools, kube and/or docker" ;;
    esac
  done
  pulumi_state
  write_env
}

main "$@"
