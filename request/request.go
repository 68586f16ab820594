// Package request turns one Mount call of the Secrets Store CSI Driver into
// one typed value, parsed and checked once: who mounts (the pod and its
// ServiceAccount) with which service-account tokens, the SecretProviderClass,
// the driver's file mode and target path, and the primary region the class
// is read in. The server, auth and provider read that value; nobody copies
// its fields or fills it in later.
//
// It never quotes a token, a Secret's data or an attribute's value in an
// error (docs/design.md, invariant 4), and bounds what it decodes
// (docs/limits.md).
package request

import (
	"context"

	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// Mount is one Mount request, parsed.
type Mount struct {
	// ClassName is the SecretProviderClass's name, for logs.
	ClassName string
	// Pod is who mounts.
	Pod Pod
	// Tokens are the service-account tokens kubelet sent, by audience.
	Tokens map[string]Token
	// Class is the parsed SecretProviderClass (shared, never modified).
	Class *class.Class
	// Permission is the driver's file mode for files whose object sets none.
	Permission int32
	// TargetPath is the pod's mount directory.
	TargetPath string
	// Region is the primary region: the class's, else the daemon's
	// AWS_REGION, else the node's region label; the class's ARNs and
	// failover region were checked against it.
	Region string
}

// Volume names the pod's volume: the pod UID and the target path (kubelet's
// path holds the UID too; the UID keeps two pods apart should a path be
// reused).
func (m *Mount) Volume() (podKey, targetPath string) {
	if m.Pod.UID != "" {
		return m.Pod.UID, m.TargetPath
	}
	return m.Pod.String(), m.TargetPath
}

// RegionResolver decides the primary region when the class names none
// (package kube: the daemon's AWS_REGION, else the node's region label).
type RegionResolver interface {
	Region(ctx context.Context, classRegion, namespace, pod string) (string, error)
}

// Parser parses Mount requests. Safe for concurrent use.
type Parser struct {
	classes *class.Cache
	regions RegionResolver
	// needTarget: the daemon writes the files itself, so the request must
	// name the directory.
	needTarget bool
}

// NewParser returns a Parser that parses classes through classes (a cache
// built with the daemon's catalog of services and auth modes) and resolves
// regions with regions; needTarget requires a target path (the daemon
// writes the files itself).
func NewParser(classes *class.Cache, regions RegionResolver, needTarget bool) *Parser {
	return &Parser{classes: classes, regions: regions, needTarget: needTarget}
}

// Parse reads req. On failure it returns the error and, when the attributes
// could be decoded, a Mount holding the pod and class names read so far,
// for the audit line only.
func (p *Parser) Parse(ctx context.Context, req *v1alpha1.MountRequest) (*Mount, error) {
	attrs, err := parseAttributes(req.GetAttributes())
	if err != nil {
		return nil, err
	}
	m := &Mount{ClassName: attrs[AttrClass], TargetPath: req.GetTargetPath(),
		Pod: Pod{Namespace: attrs[AttrPodNamespace], Name: attrs[AttrPodName], ServiceAccount: attrs[AttrServiceAccount]}}
	if err := p.parse(ctx, req, attrs, m); err != nil {
		return m, err
	}
	return m, nil
}

func (p *Parser) parse(ctx context.Context, req *v1alpha1.MountRequest, attrs map[string]string, m *Mount) error {
	secrets, err := parseSecrets(req.GetSecrets())
	if err != nil {
		return err
	}
	if m.Permission, err = parsePermission(req.GetPermission()); err != nil {
		return err
	}
	if m.TargetPath == "" && p.needTarget {
		return failure.New(failure.InvalidArgument, "the mount request has no targetPath")
	}
	if m.Class, err = p.classes.Parse(attrs, m.Permission); err != nil {
		return err
	}
	pod, err := podFrom(attrs)
	if err != nil {
		return err
	}
	m.Pod = pod
	if m.Tokens, err = ParseTokens(attrs, secrets); err != nil {
		return err
	}
	if m.Region, err = p.regions.Region(ctx, m.Class.Region, m.Pod.Namespace, m.Pod.Name); err != nil {
		return err
	}
	return m.Class.CheckRegion(m.Region)
}
