//! Test support: gives cluster-backed tests a Kubernetes API server, the one named by
//! `KUBECONFIG` when it is set, otherwise the local control plane from `deploy/local-k8s`.
