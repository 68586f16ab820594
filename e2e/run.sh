#!/usr/bin/env bash
# Runs the end-to-end suite (`make e2e`): builds the upstream binaries, or
# reuses them from the cache (e2e/tools/build.sh), then runs the Go tests
# behind the e2e build tag. Extra arguments go to `go test` (e.g. -run TestRotation).
#
# Needs: Go, root (the driver mounts tmpfs), moto_server on PATH, and for a
# cold build about 8 minutes and 3 GB of memory. With CI=true a missing piece
# fails the run instead of skipping it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ $(id -u) != 0 ]]; then
  echo "e2e: must run as root (the Secrets Store CSI Driver mounts tmpfs)" >&2
  exit 1
fi
if ! command -v moto_server >/dev/null; then
  echo "e2e: moto_server not found on PATH; install moto[server] (Python) first" >&2
  [[ ${CI:-} == true ]] && exit 1
fi

t0=$SECONDS
bash e2e/tools/build.sh
echo "e2e: binaries ready in $((SECONDS - t0)) s"

t1=$SECONDS
status=0
go test -tags e2e -count=1 -timeout 45m -v ./e2e/... ./charts/... "$@" || status=$?
echo "e2e: tests took $((SECONDS - t1)) s (total $((SECONDS - t0)) s)"
exit $status
