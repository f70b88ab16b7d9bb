#!/usr/bin/env bash
# Builds the project's Dockerfile, unchanged, with podman on a machine with no Docker engine and
# no container registry: the base image comes from docker/build-base.sh and is passed as
# NODE_IMAGE in place of the digest-pinned official one.
#   docker/build-image.sh [tag]        default tag: wheelhouse:test
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
tag=${1:-wheelhouse:test}

"$here/build-base.sh"
. "$here/podman-env.sh"
exec 9>"$WHEELHOUSE_PODMAN_CACHE/image.lock"
flock 9

# Outbound TLS may be re-signed by a CA only this host trusts: lend the host's bundle and npm
# config to the steps that fetch packages. A bind mount leaves an empty mount point behind in the
# layer, so those stages (deps, build, prod-deps) are built first with the mounts, and the image
# is then built without any: its cache holds the fetched layers (podman's cache key ignores
# mounts), and the runtime stages run clean.
mounts=()
[[ -f /etc/ssl/certs/ca-certificates.crt ]] &&
  mounts+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
[[ -f /etc/npmrc ]] && mounts+=(-v /etc/npmrc:/usr/local/etc/npmrc:ro)

version=$(node -p "require('$repo/package.json').version" 2>/dev/null || echo dev)
revision=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
args=(--pull=never --format docker --layers --build-arg "NODE_IMAGE=$WH_BASE_IMAGE"
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" -f "$repo/Dockerfile")

start=$SECONDS
for target in build prod-deps; do
  podman build "${args[@]}" "${mounts[@]}" --target "$target" "$repo"
done
# --format docker: the OCI format has no HEALTHCHECK and buildah would drop it.
podman build "${args[@]}" -t "$tag" "$repo"
took=$((SECONDS - start))

size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "built $tag: $(awk -v s="$size" 'BEGIN{printf "%.0f MB", s/1e6}') in ${took} s"
