# syntax=docker/dockerfile:1
# One image for every Tandem component: the container runs `tandem <component>`, e.g.
#   docker run IMAGE speed --metrics-port 9464 | archiver | batch schedule | serve | status | --help
# Non-root (the base image's `node` user, uid 1000), Node 24, the deployment's config file mounted
# read-only and named by TANDEM_CONFIG (see docs/deploying.md; the Helm chart in infra/helm/tandem
# mounts it from a ConfigMap). Build: `docker build -t tandem .` from the repository root.
#
# Node 24 comes from the official Debian-based Node image (glibc: DuckDB's prebuilt native binding
# needs it, so no Alpine). Pin it by digest in production (NODE_IMAGE=node:24-bookworm-slim@sha256:…).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The pnpm version package.json's packageManager pins (scripts/lib.sh's PNPM_VERSION), from the npm
# registry, as scripts/bootstrap installs it.
RUN npm install --global --no-fund --no-audit --loglevel=error pnpm@12.4.2
# The lockfile alone decides what is downloaded (pnpm fetch), so this layer is rebuilt only when
# dependencies change, not on every source edit.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch --prod
COPY . .
# Production dependencies only (no TypeScript, biome, vitest): Node 24 runs the .ts sources directly.
RUN pnpm install --offline --frozen-lockfile --prod

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the process: the app cannot rewrite itself. pnpm and its store
# stay behind in the build stage.
COPY --from=build /app /app
# `tandem` on PATH, for the entry point and for operators (`kubectl exec … -- tandem status`). It
# runs the cli's entry point like packages/cli/bin/tandem does, with the same Node flags, but
# without scripts/lib.sh: that file fills in the local development stack's addresses and
# credentials (S3 at 127.0.0.1:9000, …) for any variable left unset, which in a cluster would hide
# a missing setting behind a wrong one.
COPY --chmod=0755 <<'EOF' /usr/local/bin/tandem
#!/bin/sh
exec node --disable-warning=ExperimentalWarning --disable-warning=TimeoutNegativeWarning /app/packages/cli/src/main.ts "$@"
EOF
# The config file is mounted here (a ConfigMap in Kubernetes, `-v ./tandem.config.json:/app/config/
# tandem.config.json:ro` with Docker) and named by TANDEM_CONFIG. Inside /app, a TypeScript config's
# `import … from '@tandem/core'` resolves against the image's node_modules, so .ts and .json both work.
RUN mkdir -p /app/config
# Batch and serving stage lake files and let DuckDB spill under the OS temp dir (/tmp/tandem-batch):
# give /tmp room (an emptyDir in Kubernetes) when the root filesystem is read-only.
# Numeric, so Kubernetes' runAsNonRoot can verify it (a user name cannot be checked): `node`, 1000.
USER 1000:1000
EXPOSE 8080 9464 9465
ENTRYPOINT ["tandem"]
CMD ["--help"]
