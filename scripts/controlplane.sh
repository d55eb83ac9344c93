#!/usr/bin/env bash
# Builds the Kubernetes control plane the cluster tests run for real
# (kube-apiserver, kube-controller-manager and etcd) from the Go module in
# tests/controlplane
# (k8s.io/kubernetes v1.34.4, every staging module pinned to v0.34.4; etcd
# v3.6.4 from the same module graph) into target/controlplane/bin, once:
# it is reused while tests/controlplane/go.mod and go.sum are unchanged.
# Cold on a 2-core machine: about 5 minutes (kube-apiserver 226 s with the
# module downloads, kube-controller-manager 60 s more, etcd 10 s); cached:
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/controlplane/bin
stamp=$out/.built-from
want=$(cat tests/controlplane/go.mod tests/controlplane/go.sum | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $out/kube-apiserver && -x $out/kube-controller-manager && -x $out/etcd ]]; then
    echo "== control plane: cached in $out"
    exit 0
fi
command -v go >/dev/null || { echo "== the cluster tests need Go (to build kube-apiserver, kube-controller-manager and etcd)" >&2; exit 1; }
mkdir -p "$out"
start=$(date +%s)
# A module download can fail on a passing network fault: each build is
# tried three times (what was fetched stays in the module cache).
build() {
    local attempt
    for attempt in 1 2 3; do
        (cd tests/controlplane && GOFLAGS=-mod=readonly go build -o "../../$out/$1" "$2") && return 0
        echo "== building $1 failed (attempt $attempt of 3)" >&2
        sleep $((attempt * 10))
    done
    return 1
}
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build etcd go.etcd.io/etcd/server/v3
echo "$want" >"$stamp"
echo "== control plane built in $(( $(date +%s) - start )) s into $out"
