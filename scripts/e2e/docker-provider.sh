#!/usr/bin/env bash
# Builds a Pulumi docker provider plugin, pulumi-resource-docker, from Go modules only
# (docs/engine-tools.md, "The docker provider"):
#   the Terraform provider github.com/kreuzwerker/terraform-provider-docker (module path
#   github.com/terraform-providers/terraform-provider-docker), bridged with
#   github.com/pulumi/pulumi-terraform-bridge/v3.
# The published github.com/pulumi/pulumi-docker/provider is not served by the module proxy,
# and its code lives in internal/, so this script copies the downloaded module (from
# GOMODCACHE) into a build dir, adds a shim package inside that copy (a ProviderInfo with
# pulumi-docker's tokens, a tfgen main and a provider main), generates the schema with tfgen
# and builds the plugin. Nothing fetched goes into the repository.
#
# Usage: scripts/e2e/docker-provider.sh [--print-dir]
#   Prints the bin dir holding pulumi-resource-docker (put it on PATH) on stdout.
# Environment:
#   DBAAS_TOOLS_DIR   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/dbaas/tools)
#   DBAAS_GO          go command (default: go on PATH, else /usr/local/go/bin/go)
#   GOTOOLCHAIN       passed to go (default local); GOPROXY as usual
set -euo pipefail

TF_MODULE=github.com/kreuzwerker/terraform-provider-docker
TF_VERSION=v0.0.0-20260916201441-96d331c98ff4
BRIDGE_MODULE=github.com/pulumi/pulumi-terraform-bridge/v3
BRIDGE_VERSION=v3.120.0
# The bridge's own go.mod replaces the Terraform plugin SDK with Pulumi's fork.
SDK_MODULE=github.com/hashicorp/terraform-plugin-sdk/v2
SDK_FORK=github.com/pulumi/terraform-plugin-sdk/v2
SDK_FORK_VERSION=v2.0.0-20250923233607-7f1981c8674a
# The version the plugin reports (GetPluginInfo): the Terraform provider's pseudo-version.
PLUGIN_VERSION="${TF_VERSION#v}"

SCRIPT="${BASH_SOURCE[0]}"
TOOLS_DIR="${DBAAS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dbaas/tools}"
GO_BIN=""
STEP="start"

fail() {
  echo "docker-provider.sh: step '$STEP' failed: $*" >&2
  exit 1
}

say() {
  echo "docker-provider.sh: $*" >&2
}

# The cache key: both module versions plus a hash of this script (it holds the shim) and the Go setup it sources.
KEY="$TF_VERSION-bridge$BRIDGE_VERSION-$(cat "$SCRIPT" "$(dirname "$SCRIPT")/go-env.sh" | sha256sum | cut -c1-12)"
DIR="$TOOLS_DIR/pulumi-resource-docker-$KEY"

warm() {
  [ -x "$DIR/bin/pulumi-resource-docker" ] && [ "$(cat "$DIR/VERSION" 2>/dev/null)" = "$KEY" ]
}

# setup_go: scripts/e2e/go-env.sh (the module copy has its requirements edited, so -mod=mod)
# shellcheck source=scripts/e2e/go-env.sh
. "$(dirname "$SCRIPT")/go-env.sh"

# The first error lines of a go build log (not the download and package-header lines).
first_errors() {
  grep -vE '^(#|go: downloading|go: finding|go: upgraded|go: added)' "$1" | head -n 4 | tr '\n' ' '
}

go_nice() {
  nice -n 19 "$GO_BIN" "$@"
}

write_shim() {
  local src=$1
  mkdir -p "$src/pulumi/dockershim" "$src/pulumi/cmd/pulumi-tfgen-docker" "$src/pulumi/cmd/pulumi-resource-docker"
  # The ProviderInfo: pulumi-docker's tokens for the SDK v2 resources and data sources of the
  # Terraform provider (docker_image is RemoteImage there; docker_config is ServiceConfig).
  # pulumi-docker's own Image (a native build resource) is not part of the Terraform provider.
  cat >"$src/pulumi/dockershim/provider.go" <<'EOF'
// Package dockershim maps the Terraform docker provider onto pulumi-docker's tokens.
// Written by dbaas scripts/e2e/docker-provider.sh into a copy of the module.
package dockershim

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"

	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

//go:embed bridge-metadata.json
var metadata []byte

// Version is set with -ldflags -X.
var Version = "0.0.0-dev"

func res(name string) tfbridge.ResourceInfo {
	return tfbridge.ResourceInfo{Tok: tfbridge.MakeResource("docker", "index", name)}
}

func ds(name string) *tfbridge.DataSourceInfo {
	return &tfbridge.DataSourceInfo{Tok: tfbridge.MakeDataSource("docker", "index", name)}
}

// Provider returns the ProviderInfo.
func Provider() tfbridge.ProviderInfo {
	resources := map[string]string{
		"docker_container":      "Container",
		"docker_image":          "RemoteImage",
		"docker_network":        "Network",
		"docker_volume":         "Volume",
		"docker_registry_image": "RegistryImage",
		"docker_config":         "ServiceConfig",
		"docker_secret":         "Secret",
		"docker_service":        "Service",
		"docker_plugin":         "Plugin",
		"docker_tag":            "Tag",
		"docker_buildx_builder": "BuildxBuilder",
	}
	dataSources := map[string]string{
		"docker_registry_image":           "getRegistryImage",
		"docker_network":                  "getNetwork",
		"docker_plugin":                   "getPlugin",
		"docker_image":                    "getRemoteImage",
		"docker_logs":                     "getLogs",
		"docker_registry_image_manifests": "getRegistryImageManifests",
	}
	p := shimv2.NewProvider(provider.New(Version)())
	info := tfbridge.ProviderInfo{
		P:                 p,
		Name:              "docker",
		DisplayName:       "Docker",
		Version:           Version,
		Publisher:         "dbaas (bridged locally)",
		LogoURL:           "",
		Description:       "A Pulumi package for interacting with Docker in Pulumi programs",
		Keywords:          []string{"pulumi", "docker"},
		License:           "Apache-2.0",
		Homepage:          "https://pulumi.io",
		Repository:        "https://github.com/pulumi/pulumi-docker",
		GitHubOrg:         "kreuzwerker",
		// tfgen reads the upstream docs (docs/resources/*.md) from here: it runs in the copy's root.
		UpstreamRepoPath: ".",
		TFProviderLicense: func() *tfbridge.TFProviderLicense { l := tfbridge.MPL20LicenseType; return &l }(),
		MetadataInfo:      tfbridge.NewProviderMetadata(metadata),
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"DOCKER_HOST"}, Value: "unix:///var/run/docker.sock"}},
			// @pulumi/docker's names (the bridge would pluralize these).
			"registry_auth": {Name: "registryAuth"},
		},
		Resources:   map[string]*tfbridge.ResourceInfo{},
		DataSources: map[string]*tfbridge.DataSourceInfo{},
		JavaScript:  &tfbridge.JavaScriptInfo{},
	}
	for tf, name := range resources {
		if _, ok := p.ResourcesMap().GetOk(tf); ok {
			r := res(name)
			info.Resources[tf] = &r
		}
	}
	if c, ok := info.Resources["docker_container"]; ok {
		c.Fields = map[string]*tfbridge.SchemaInfo{
			"command":           {Name: "command"},
			"networks_advanced": {Name: "networksAdvanced"},
		}
	}
	for tf, name := range dataSources {
		if _, ok := p.DataSourcesMap().GetOk(tf); ok {
			info.DataSources[tf] = ds(name)
		}
	}
	info.SetAutonaming(255, "-")
	return info
}
EOF
  echo '{}' >"$src/pulumi/dockershim/bridge-metadata.json"
  cat >"$src/pulumi/cmd/pulumi-tfgen-docker/main.go" <<'EOF'
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"github.com/terraform-providers/terraform-provider-docker/pulumi/dockershim"
)

func main() {
	tfgen.Main("docker", dockershim.Version, dockershim.Provider())
}
EOF
  cat >"$src/pulumi/cmd/pulumi-resource-docker/main.go" <<'EOF'
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"github.com/terraform-providers/terraform-provider-docker/pulumi/dockershim"
)

//go:embed schema.json
var pulumiSchema []byte

func main() {
	tfbridge.Main("docker", dockershim.Version, dockershim.Provider(), pulumiSchema)
}
EOF
}

# The copy's go.mod lists the upstream's lint/doc tools (tools/tools.go) and everything they
# pull in; some of those are not served. The tools package goes, and so do the tool modules;
# a listed module whose go.mod the proxy refuses (403) is dropped and `go get` retried.
TOOL_MODULES="github.com/client9/misspell github.com/golangci/golangci-lint github.com/hashicorp/terraform-plugin-docs github.com/katbyte/terrafmt"

add_bridge() {
  local src=$1 log=$2 m tries=0 refused dropped=""
  rm -rf "$src/tools"
  for m in $TOOL_MODULES; do
    (cd "$src" && "$GO_BIN" mod edit -droprequire "$m") || fail "go mod edit -droprequire $m failed in $src"
  done
  (cd "$src" && "$GO_BIN" mod edit -replace "$SDK_MODULE=../terraform-plugin-sdk-v2") || fail "go mod edit -replace failed in $src"
  while ! (cd "$src" && "$GO_BIN" get "$BRIDGE_MODULE@$BRIDGE_VERSION") >"$log" 2>&1; do
    refused="$(grep -m1 -oE 'go: [^ @]+@[^:]+: reading [^ ]+: 403' "$log" | sed -E 's/^go: ([^@]+)@.*/\1/')" || true
    tries=$((tries + 1))
    if [ -z "$refused" ] || [ $tries -gt 40 ] || ! grep -qE "^[[:space:]]+$refused " "$src/go.mod"; then
      fail "$(grep -m3 -E 'go: |error|refused|not available' "$log" | tr '\n' ' ')(dropped as refused: ${dropped:-none}; full log: $log)"
    fi
    dropped="$dropped $refused"
    (cd "$src" && "$GO_BIN" mod edit -droprequire "$refused") || fail "go mod edit -droprequire $refused failed"
  done
  [ -z "$dropped" ] || say "dropped from the copy's go.mod (not served):$dropped"
}

# Pulumi's fork of the plugin SDK (the bridge's replace) is 2.38.1 and built against
# terraform-plugin-go v0.29; the Terraform provider needs plugin-go v0.31, whose
# tfprotov5.ResourceServer added GenerateResourceConfig (Terraform 1.14's
# -generate-config-out, never called by the bridge). The fork is copied beside the provider
# and gets that one method, answering "not supported".
copy_sdk_fork() {
  local build=$1 log=$2 dir
  (cd "$TOOLS_DIR" && "$GO_BIN" mod download -json "$SDK_FORK@$SDK_FORK_VERSION") >"$log" 2>&1 ||
    fail "$(grep -m2 -E '"Error"|go: ' "$log" | tr '\n' ' ')(full log: $log)"
  dir="$(awk -F'"' '/"Dir":/ { print $4 }' "$log")"
  [ -f "${dir:-/nonexistent}/helper/schema/grpc_provider.go" ] || fail "no helper/schema/grpc_provider.go in $SDK_FORK@$SDK_FORK_VERSION ('$dir')"
  cp -r "$dir" "$build/terraform-plugin-sdk-v2" || fail "cannot copy $dir to $build"
  chmod -R u+w "$build/terraform-plugin-sdk-v2" || fail "cannot make $build/terraform-plugin-sdk-v2 writable"
  cat >"$build/terraform-plugin-sdk-v2/helper/schema/grpc_provider_dbaas.go" <<'GO'
package schema

import (
	"context"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
)

// GenerateResourceConfig (terraform-plugin-go v0.30+) is not supported by this SDK; added by
// dbaas scripts/e2e/docker-provider.sh so that the fork builds against terraform-plugin-go v0.31.
func (s *GRPCProviderServer) GenerateResourceConfig(_ context.Context, _ *tfprotov5.GenerateResourceConfigRequest) (*tfprotov5.GenerateResourceConfigResponse, error) {
	return &tfprotov5.GenerateResourceConfigResponse{
		Diagnostics: []*tfprotov5.Diagnostic{{
			Severity: tfprotov5.DiagnosticSeverityError,
			Summary:  "GenerateResourceConfig is not supported by this provider",
		}},
	}, nil
}
GO
}

build() {
  local start src build tmp mod_dir ldflags
  start=$SECONDS
  STEP="find go"
  setup_go mod
  say "building pulumi-resource-docker $KEY; cold: tens of minutes on 2 cores"

  STEP="go mod download $TF_MODULE@$TF_VERSION"
  (cd "$TOOLS_DIR" && "$GO_BIN" mod download -json "$TF_MODULE@$TF_VERSION") >"$TOOLS_DIR/.docker-provider-download.json" 2>&1 ||
    fail "$(grep -m2 -E '"Error"|go: ' "$TOOLS_DIR/.docker-provider-download.json" | tr '\n' ' ')(check GOPROXY; go list -m $TF_MODULE@latest)"
  mod_dir="$(awk -F'"' '/"Dir":/ { print $4 }' "$TOOLS_DIR/.docker-provider-download.json")"
  [ -f "${mod_dir:-/nonexistent}/internal/provider/provider.go" ] ||
    fail "no internal/provider/provider.go in the downloaded module ('$mod_dir'; see $TOOLS_DIR/.docker-provider-download.json)"
  rm -f "$TOOLS_DIR/.docker-provider-download.json"

  STEP="copy the module into the build dir"
  build="$(dirname "$TOOLS_DIR")/build/pulumi-resource-docker-$KEY"
  src="$build/src"
  rm -rf "$build"
  mkdir -p "$build/bin" || fail "cannot create $build"
  cp -r "$mod_dir" "$src" || fail "cannot copy $mod_dir to $src (check free space)"
  chmod -R u+w "$src" || fail "cannot make $src writable"
  write_shim "$src"

  STEP="copy $SDK_FORK@$SDK_FORK_VERSION and add GenerateResourceConfig"
  copy_sdk_fork "$build" "$build/sdk-fork-download.json"

  STEP="add $BRIDGE_MODULE@$BRIDGE_VERSION to the copy's go.mod"
  add_bridge "$src" "$build/go-get.log"

  STEP="go build pulumi-tfgen-docker"
  ldflags="-s -w -X github.com/terraform-providers/terraform-provider-docker/pulumi/dockershim.Version=$PLUGIN_VERSION"
  (cd "$src" && go_nice build -trimpath -ldflags "$ldflags" -o "$build/bin/pulumi-tfgen-docker" ./pulumi/cmd/pulumi-tfgen-docker) >"$build/build-tfgen.log" 2>&1 ||
    fail "$(first_errors "$build/build-tfgen.log") (full log: $build/build-tfgen.log)"
  say "pulumi-tfgen-docker built at $((SECONDS - start)) s"

  STEP="tfgen schema"
  # PULUMI_CONVERT=false: no `pulumi convert` of the upstream HCL examples (it needs the CLI
  # and its terraform converter plugin); the docs' prose is still used.
  (cd "$src" && PULUMI_CONVERT=false "$build/bin/pulumi-tfgen-docker" schema --out "$src/pulumi/cmd/pulumi-resource-docker") >"$build/tfgen.log" 2>&1 ||
    fail "$(grep -m5 -iE 'error|panic' "$build/tfgen.log" | tr '\n' ' ') (full log: $build/tfgen.log)"
  [ -s "$src/pulumi/cmd/pulumi-resource-docker/schema.json" ] || fail "tfgen wrote no schema.json (log: $build/tfgen.log)"
  if [ -s "$src/pulumi/cmd/pulumi-resource-docker/bridge-metadata.json" ]; then
    cp "$src/pulumi/cmd/pulumi-resource-docker/bridge-metadata.json" "$src/pulumi/dockershim/bridge-metadata.json"
  fi

  STEP="go build pulumi-resource-docker"
  tmp="$build/out"
  mkdir -p "$tmp/bin"
  (cd "$src" && go_nice build -trimpath -ldflags "$ldflags" -o "$tmp/bin/pulumi-resource-docker" ./pulumi/cmd/pulumi-resource-docker) >"$build/build-provider.log" 2>&1 ||
    fail "$(first_errors "$build/build-provider.log") (full log: $build/build-provider.log)"

  STEP="check the plugin"
  [ "$("$tmp/bin/pulumi-resource-docker" -version 2>/dev/null)" = "$PLUGIN_VERSION" ] ||
    fail "$tmp/bin/pulumi-resource-docker -version does not print $PLUGIN_VERSION"
  cp "$src/pulumi/cmd/pulumi-resource-docker/schema.json" "$tmp/schema.json"
  echo "$KEY" >"$tmp/VERSION"

  STEP="install"
  rm -rf "$DIR"
  mv "$tmp" "$DIR" || fail "cannot move $tmp to $DIR"
  rm -rf "$build"
  say "pulumi-resource-docker built in $((SECONDS - start)) s -> $DIR/bin"
}

main() {
  case "${1:-}" in
    -h | --help)
      sed -n '2,18p' "$SCRIPT"
      exit 0
      ;;
    "" | --print-dir) ;;
    *) fail "unknown argument $1 (see --help)" ;;
  esac
  mkdir -p "$TOOLS_DIR" || fail "cannot create $TOOLS_DIR (set DBAAS_TOOLS_DIR to a writable dir)"
  warm || build
  echo "$DIR/bin"
}

main "$@"
