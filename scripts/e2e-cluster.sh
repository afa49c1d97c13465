#!/usr/bin/env bash
# Set up a throwaway kind (or k3d) cluster with ingress-nginx and KubeRay for the opt-in
# real-cluster tests (tests/cluster/test_real_cluster.py), then print how to run them.
#
# Needs Docker plus kind (or k3d), kubectl and helm on PATH. It cannot run in raygate's CI
# sandbox (no Docker there); the tests skip unless RAYGATE_E2E_KUBECONFIG is set.
#
#   scripts/e2e-cluster.sh            # create the cluster
#   scripts/e2e-cluster.sh delete     # remove it
set -euo pipefail

NAME=${RAYGATE_E2E_CLUSTER:-raygate-e2e}
KUBECONFIG_OUT=${RAYGATE_E2E_KUBECONFIG:-$PWD/.e2e-kubeconfig}
INGRESS_NGINX_VERSION=${INGRESS_NGINX_VERSION:-controller-v1.15.1}
KUBERAY_VERSION=${KUBERAY_VERSION:-1.5.1}

need() { command -v "$1" >/dev/null || { echo "e2e-cluster: $1 is required" >&2; exit 2; }; }
need docker; need kubectl; need helm

if command -v kind >/dev/null; then TOOL=kind; elif command -v k3d >/dev/null; then TOOL=k3d
else echo "e2e-cluster: kind or k3d is required" >&2; exit 2; fi

if [[ "${1:-}" == "delete" ]]; then
  if [[ $TOOL == kind ]]; then kind delete cluster --name "$NAME"; else k3d cluster delete "$NAME"; fi
  rm -f "$KUBECONFIG_OUT"
  exit 0
fi

if [[ $TOOL == kind ]]; then
  # One control-plane node labelled ingress-ready=true (the guide's gateway node) with
  # 80/443 and the Ray Client port mapped to the host's loopback only.
  cat <<KIND | kind create cluster --name "$NAME" --kubeconfig "$KUBECONFIG_OUT" --config -
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  labels:
    ingress-ready: "true"
  extraPortMappings:
  - {containerPort: 80, hostPort: 8080, listenAddress: "127.0.0.1"}
  - {containerPort: 10001, hostPort: 10001, listenAddress: "127.0.0.1"}
- role: worker
KIND
else
  k3d cluster create "$NAME" --agents 1 --k3s-arg "--disable=traefik@server:0" \
    -p "127.0.0.1:8080:80@loadbalancer" --kubeconfig-update-default=false
  k3d kubeconfig get "$NAME" > "$KUBECONFIG_OUT"
  kubectl --kubeconfig "$KUBECONFIG_OUT" label node "k3d-$NAME-server-0" ingress-ready=true --overwrite
fi
export KUBECONFIG=$KUBECONFIG_OUT

# ingress-nginx installed the way platform teams do: the Helm chart (4.15.1 = controller
# v1.15.1) with flags of their own, which raygate apply must keep (the suite checks them).
# RAYGATE_E2E_CONTROLLER=manifest uses the upstream kind manifest instead.
if [[ "${RAYGATE_E2E_CONTROLLER:-helm}" == helm ]]; then
  helm repo add ingress-nginx https://kubernetes.github.io/ingress-nginx >/dev/null
  helm repo update ingress-nginx >/dev/null
  helm upgrade --install ingress-nginx ingress-nginx/ingress-nginx --version "${INGRESS_NGINX_CHART:-4.15.1}" \
    --namespace ingress-nginx --create-namespace \
    --set controller.extraArgs.enable-ssl-passthrough="" \
    --set controller.watchIngressWithoutClass=true \
    --set controller.config.use-forwarded-headers="true" \
    --set controller.service.type=NodePort --wait --timeout 300s
else
  kubectl apply -f "https://raw.githubusercontent.com/kubernetes/ingress-nginx/${INGRESS_NGINX_VERSION}/deploy/static/provider/kind/deploy.yaml"
  kubectl -n ingress-nginx wait --for=condition=Available deployment/ingress-nginx-controller --timeout=300s
fi

# KubeRay operator and two small RayClusters (two teams behind the one controller): the
# guide's ray-cluster-kuberay in raycluster, and ray-b in raycluster-b.
helm repo add kuberay https://ray-project.github.io/kuberay-helm/ >/dev/null
helm repo update kuberay >/dev/null
helm upgrade --install kuberay-operator kuberay/kuberay-operator --version "$KUBERAY_VERSION" \
  --namespace kuberay-system --create-namespace --wait
for ns in raycluster raycluster-b; do
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -
done
helm upgrade --install ray-cluster kuberay/ray-cluster --version "$KUBERAY_VERSION" \
  --namespace raycluster --set worker.replicas=0 --wait
helm upgrade --install ray-b kuberay/ray-cluster --version "$KUBERAY_VERSION" \
  --namespace raycluster-b --set worker.replicas=0 --set fullnameOverride=ray-b --wait

echo
echo "Cluster ready. Run the opt-in suite with:"
echo "  RAYGATE_E2E_KUBECONFIG=$KUBECONFIG_OUT .venv/bin/pytest tests/cluster/test_real_cluster.py -v"
