# wheelhouse: a private Python package index for many tasks on one shared volume.
# Build: docker build -t wheelhouse .   (without a registry: docker/build-image.sh)

# The Node runtime: the official Node 24 LTS image, pinned by digest because a tag is a name its
# owner may move (a rebuild of the same tag would change what ships without a change here). The
# tag part only says what the digest is. To move to a newer Node 24 release, read the digest of
# its multi-arch index (`docker buildx imagetools inspect docker.io/library/node:24-bookworm-slim`,
# or `crane digest`), set both here, and set the same version in docker/podman-env.sh so the image
# tests run what ships. Offline builds pass their locally built base instead:
#   --build-arg NODE_IMAGE=localhost/wheelhouse-node:24.21.0-bookworm-slim   (docker/build-image.sh)
ARG NODE_IMAGE=docker.io/library/node:24.21.0-bookworm-slim@sha256:2fe369e969550cde8e867afc3fe370b260140cab4a23d467074295b42163d553

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

# The base without the package managers: nothing installs packages at run time, and npm, npx,
# corepack and yarn are a shell's worth of tools and advisories an attacker or a scanner would
# otherwise find. Copied whole onto an empty image below, so their bytes are gone too (deleting
# them in a layer on top would leave them in the base's layer). /data/packages is owned by uid
# 1000 so a fresh named volume (compose) inherits a writable root; on ECS the EFS access point
# enforces the same uid/gid.
FROM ${NODE_IMAGE} AS runtime-root
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* /usr/local/include/node \
      /usr/local/share/doc/node /usr/local/share/man/man1/node.1 /root/.npm /tmp/* \
  && mkdir -p /data/packages && chown 1000:1000 /data/packages

FROM scratch
COPY --from=runtime-root / /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    WHEELHOUSE_ROOT=/data/packages \
    WHEELHOUSE_PORT=8080
WORKDIR /app
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

VOLUME /data/packages
USER 1000:1000
EXPOSE 8080
# HEALTHCHECK is Docker-format only: podman/buildah must build with --format docker to keep it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["node", "dist/healthcheck.js"]
# Exec form, so node is PID 1 (or the child of the orchestrator's init) and receives SIGTERM
# itself for the graceful drain.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]

# Last, so a new revision does not invalidate the layers above.
ARG NODE_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="wheelhouse" \
      org.opencontainers.image.description="Private Python package index (PEP 503/691/658) for many tasks on one shared volume" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
