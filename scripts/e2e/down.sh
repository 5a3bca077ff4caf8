#!/usr/bin/env bash
# npm run e2e:down — stops what e2e:up started (control plane, Docker engine); the built
# tools, images and the Pulumi state under .e2e/ are kept for the next e2e:up.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
status=0
bash "$ROOT/scripts/e2e/kube.sh" down "$ROOT/.e2e/kube" || { echo "e2e:down: stopping the control plane failed: see above" >&2; status=1; }
bash "$ROOT/scripts/e2e/docker.sh" down || { echo "e2e:down: stopping the Docker engine failed: see above" >&2; status=1; }
rm -f "$ROOT/.e2e/env"
exit "$status"
