#!/usr/bin/env bash
# Builds the upstream binaries the end-to-end suite runs (kube-apiserver,
# kube-controller-manager, the Secrets Store CSI Driver v1.6.1 and v1.5.6)
# from the Go module proxy through the wrapper modules beside this script,
# and installs etcd from Debian when it is missing. Binaries are cached in
# $E2E_BIN_DIR keyed by the wrapper's go.sum, so a second run costs seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${E2E_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/csi-provider-aws-e2e/bin}
mkdir -p "$bin"

# build NAME WRAPPER_DIR PACKAGE LDFLAGS
build() {
  local name=$1 dir=$2 pkg=$3 ldflags=$4
  local key; key=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16)
  if [[ -x "$bin/$name" && -f "$bin/$name.key" && "$(cat "$bin/$name.key")" == "$key" ]]; then
    echo "e2e build: $name cached"; return
  fi
  local t0=$SECONDS
  echo "e2e build: $name from $pkg (first build takes minutes)"
  (cd "$dir" && GOFLAGS=-mod=mod nice go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  echo "$key" > "$bin/$name.key"
  echo "e2e build: $name done in $((SECONDS - t0)) s"
}

k8sv=v1.37.2
k8sld="-s -w -X k8s.io/component-base/version.gitVersion=$k8sv -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
what=${1:-all}
case $what in
  all|k8s)
    build kube-apiserver "$here/k8s" k8s.io/kubernetes/cmd/kube-apiserver "$k8sld"
    build kube-controller-manager "$here/k8s" k8s.io/kubernetes/cmd/kube-controller-manager "$k8sld"
    ;;&
  all|driver)
    build secrets-store-csi-driver-v1.6.1 "$here/driver-v1.6.1" sigs.k8s.io/secrets-store-csi-driver/cmd/secrets-store-csi-driver \
      "-s -w -X sigs.k8s.io/secrets-store-csi-driver/pkg/version.BuildVersion=v1.6.1"
    build secrets-store-csi-driver-v1.5.6 "$here/driver-v1.5.6" sigs.k8s.io/secrets-store-csi-driver/cmd/secrets-store-csi-driver \
      "-s -w -X sigs.k8s.io/secrets-store-csi-driver/pkg/version.BuildVersion=v1.5.6"
    ;;&
  all|etcd)
    if ! command -v etcd >/dev/null; then
      echo "e2e build: installing etcd-server from Debian"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
    fi
    ln -sf "$(command -v etcd)" "$bin/etcd"
    ;;
  helm)
    # Not part of "all": only charts/charttest needs helm, and it asks for it itself.
    # Without these ldflags helm reports v3.22 and assumes Kubernetes v1.20,
    # which the chart's kubeVersion (>=1.30.0-0) refuses.
    build helm "$here/helm" helm.sh/helm/v3/cmd/helm \
      "-s -w -X helm.sh/helm/v3/internal/version.version=v3.22.0 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37"
    ;;
esac
echo "e2e build: binaries in $bin"
