// Package provider reads the values of a SecretProviderClass's objects from
// AWS (Secrets Manager, SSM Parameter Store) through an identity-scoped value
// cache, and shapes them into the file set handed back to the driver or
// written by the daemon itself (jmesPath entries included). The class model
// it reads from is package class.
//
// It never reads a pod's mount back, never chooses credentials (they arrive
// per call from package auth) and never lets a SecretProviderClass pick an
// endpoint: endpoints, TLS and proxies belong to the operator.
package provider
