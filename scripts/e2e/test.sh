#!/usr/bin/env bash
# npm run test:e2e — every real-engine test (vitest.e2e.config.ts), with the environment
# e2e:up wrote. Without .e2e/env the tests skip with their reasons; with CI=true they fail.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ -f $ROOT/.e2e/env ]]; then
  # shellcheck source=/dev/null
  . "$ROOT/.e2e/env"
elif [[ ${CI:-} == true ]]; then
  echo "test:e2e: no .e2e/env: run npm run e2e:up first" >&2
  exit 1
else
  echo "test:e2e: no .e2e/env (npm run e2e:up writes it): tests that need an engine will skip" >&2
fi
cd "$ROOT"
exec npx vitest run --config vitest.e2e.config.ts "$@"
