# wheelhouse: a private Python package index for many tasks on one shared volume.
# Build: docker build -t wheelhouse .   (without a registry: docker/build-image.sh)

ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim

# All dependencies, fetched once; the two stages below reuse this npm cache.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM deps AS prod-deps
RUN npm ci --omit=dev --prefer-offline --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    WHEELHOUSE_ROOT=/data/packages \
    WHEELHOUSE_PORT=8080
WORKDIR /app
# Owned by uid 1000 so a fresh named volume (compose) inherits a writable root; on ECS the
# EFS access point enforces the same uid/gid.
RUN mkdir -p /data/packages && chown 1000:1000 /data/packages
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

VOLUME /data/packages
USER 1000:1000
EXPOSE 8080
# HEALTHCHECK is Docker-format only: podman/buildah must build with --format docker to keep it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["node", "dist/healthcheck.js"]
# Exec form, so node is PID 1 and receives SIGTERM itself for the graceful drain.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]

# Last, so a new revision does not invalidate the layers above.
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="wheelhouse" \
      org.opencontainers.image.description="Private Python package index (PEP 503/691/658) for many tasks on one shared volume" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/node:20-bookworm-slim"
