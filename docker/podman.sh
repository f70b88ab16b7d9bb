#!/usr/bin/env bash
# podman with the configuration and storage the docker/*.sh scripts use, e.g.
#   docker/podman.sh run --rm -e WHEELHOUSE_PORT=18080 wheelhouse:test
here=$(cd "$(dirname "$0")" && pwd)
. "$here/podman-env.sh"
exec podman "$@"
