// Package auth turns what the Secrets Store CSI Driver sends for a pod (its
// namespace, ServiceAccount and service-account tokens) into AWS credentials
// for that pod's identity: IRSA (STS AssumeRoleWithWebIdentity) or EKS Pod
// Identity (the node's agent). It owns the token checks and the credential
// cache. It reads nothing from Kubernetes itself: a ServiceAccount's IAM
// role comes through Roles (package kube in the daemon), and the region
// is decided before it is asked (Request.Region).
//
// It must never:
//   - hand out the daemon's or the node's own credentials (docs/design.md,
//     invariant 1): every provider it returns yields only credentials
//     obtained with the requesting pod's own token;
//   - serve a cached credential to a request whose identity key differs, or
//     whose own token has not passed CheckToken (invariant 2);
//   - put a token or a credential in an error or a log line (invariant 4).
package auth
