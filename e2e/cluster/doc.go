//go:build e2e

// Package cluster starts and stops the real pieces the end-to-end suite runs
// against, all on 127.0.0.1 with free ports: etcd, kube-apiserver,
// kube-controller-manager, the Secrets Store CSI Driver binary, moto, our own
// daemon, and the test doubles that stand in for the cloud's edges (a
// fault-injecting proxy in front of moto, an EKS Pod Identity agent, a
// counting proxy on the provider socket).
//
// Every process it starts runs in its own process group and is killed with
// that group; every directory it creates lives under one root that Teardown
// unmounts and removes. It never binds anything but loopback and never talks
// to a real cloud.
package cluster
