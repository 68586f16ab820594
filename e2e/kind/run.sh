#!/usr/bin/env bash
# Runs the end-to-end scenarios on a kind cluster (`make e2e-kind`): creates
# the cluster (cluster.yaml), builds the daemon's image from the Dockerfile
# and loads it into the node, runs moto in the cluster (moto.yaml), installs
# the upstream Secrets Store CSI Driver chart with the provider's token
# audiences and then our chart (values.yaml), and runs e2e/scenarios with
# E2E_BACKEND=kind. The cluster is deleted at the end unless
# E2E_KIND_KEEP=true. Extra arguments go to go test (e.g. -run TestRotation).
#
# Needs: docker with a running engine, kind, kubectl, Go, and the internet
# (kind's node image; golang and distroless for the Dockerfile; the
# driver's images; moto and busybox). Neither `make test` nor `make e2e`
# runs this, and CI cannot: it has no container engine. See README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/e2e/kind
cd "$root"

cluster=${KIND_CLUSTER_NAME:-csi-provider-aws-e2e}
keep=${E2E_KIND_KEEP:-false}
image=csi-provider-aws-e2e
tag=dev
# The scenarios' pollInterval (e2e/scenarios/main_test.go).
poll=4s

fail() { echo "e2e-kind: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 not found on PATH: $2"; }
need docker "install Docker (kind runs each node as a container)"
need kind "install kind (go install sigs.k8s.io/kind@latest)"
need kubectl "install kubectl"
need go "install Go 1.26"
docker info >/dev/null 2>&1 || fail "docker cannot reach a container engine (docker info failed); kind needs one"
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  fail "kind cluster $cluster exists (left by E2E_KIND_KEEP=true?): kind delete cluster --name $cluster"
fi

bash "$root/e2e/tools/build.sh" helm >/dev/null
helm=${E2E_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/csi-provider-aws-e2e/bin}/helm

work=$(mktemp -d "${TMPDIR:-/tmp}/cpa-e2e-kind-XXXXXX")
export KUBECONFIG=$work/kubeconfig
export HELM_CACHE_HOME=$work/helm-cache HELM_CONFIG_HOME=$work/helm-config HELM_DATA_HOME=$work/helm-data
status=1
# shellcheck disable=SC2317 # finish runs from the EXIT trap
finish() {
  if [[ $status != 0 ]]; then
    logs=$work-logs
    mkdir -p "$logs"
    kubectl -n kube-system logs -l app.kubernetes.io/name=csi-provider-aws --tail=-1 --prefix >"$logs/csi-provider-aws.log" 2>&1 || true
    kubectl -n kube-system logs -l app=secrets-store-csi-driver -c secrets-store --tail=-1 --prefix >"$logs/driver.log" 2>&1 || true
    kubectl -n e2e-moto logs deploy/moto --tail=-1 >"$logs/moto.log" 2>&1 || true
    kubectl get events -A --sort-by=.lastTimestamp >"$logs/events.txt" 2>&1 || true
    echo "e2e-kind: failed; logs in $logs" >&2
  fi
  if [[ $keep == true ]]; then
    echo "e2e-kind: cluster $cluster kept (E2E_KIND_KEEP=true); kubeconfig $KUBECONFIG"
  else
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap finish EXIT

t0=$SECONDS
echo "e2e-kind: creating cluster $cluster"
kind create cluster --name "$cluster" --config "$here/cluster.yaml" --kubeconfig "$KUBECONFIG" --wait 3m \
  ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"}
# Classes that name no region take the node's, as on EKS.
kubectl label nodes --all topology.kubernetes.io/region=us-west-2 --overwrite

echo "e2e-kind: building $image:$tag from the Dockerfile"
DOCKER_BUILDKIT=1 docker build --build-arg VERSION="e2e-$(git rev-parse --short HEAD 2>/dev/null || echo dev)" -t "$image:$tag" "$root"
kind load docker-image "$image:$tag" --name "$cluster"

kubectl apply -f "$here/moto.yaml"

# Both charts from the Go module cache, as the chart tests take them: the
# driver's chart, and ours with the driver's beside it (helm wants it there
# even when it is not installed).
driver=$(go list -m -f '{{.Dir}}' sigs.k8s.io/secrets-store-csi-driver)/charts/secrets-store-csi-driver
cp -R "$root/charts/csi-provider-aws" "$work/csi-provider-aws"
rm -rf "$work/csi-provider-aws/charts"
mkdir -p "$work/csi-provider-aws/charts"
cp -R "$driver" "$work/csi-provider-aws/charts/"
chmod -R u+w "$work/csi-provider-aws"

echo "e2e-kind: installing the Secrets Store CSI Driver"
"$helm" install csi-secrets-store "$driver" --namespace kube-system \
  --set 'tokenRequests[0].audience=sts.amazonaws.com' \
  --set 'tokenRequests[1].audience=pods.eks.amazonaws.com' \
  --set enableSecretRotation=true --set rotationPollInterval="$poll" \
  --set syncSecret.enabled=true \
  --wait --timeout 5m

echo "e2e-kind: installing csi-provider-aws"
"$helm" install csi-provider-aws "$work/csi-provider-aws" --namespace kube-system \
  -f "$here/values.yaml" --set image.repository="$image" --set image.tag="$tag" \
  --wait --timeout 5m
kubectl -n e2e-moto rollout status deployment/moto --timeout 5m
echo "e2e-kind: cluster ready in $((SECONDS - t0)) s"

t1=$SECONDS
status=0
E2E_BACKEND=kind E2E_KIND_KUBECONFIG=$KUBECONFIG E2E_KIND_MOTO_URL=http://127.0.0.1:30566 \
  go test -tags e2e -count=1 -timeout 30m -v ./e2e/scenarios/ "$@" || status=$?
echo "e2e-kind: tests took $((SECONDS - t1)) s (total $((SECONDS - t0)) s)"
exit $status
