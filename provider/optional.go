package provider

import (
	"time"

	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// isAbsent reports whether err is AWS saying the object does not exist:
// ResourceNotFoundException (a secret, or its VersionId or VersionStage),
// ParameterNotFound (a parameter, or its version or label), a client
// fault. Only this leaves an optional object out (docs/compatibility.md); a
// denial, a KMS failure, throttling or an outage fails it as any object.
func isAbsent(err error) bool {
	return failure.KindOf(err) == failure.NotFound && failure.IsClientFault(err)
}

// allOptional reports whether every read at positions idx is of an
// optional object.
func (r *regionRead) allOptional(idx []int) bool {
	for _, j := range idx {
		if !r.reads[j].optional {
			return false
		}
	}
	return len(idx) > 0
}

// flightSuffix keeps the flights of optional reads alone apart from the
// others: only they may take an absence another flight just recorded
// (valueCache.get), so a plain object never fails on a cached absence
// and behaves exactly as it did before optional objects.
func flightSuffix(lenient bool) string {
	if lenient {
		return "\x00optional"
	}
	return ""
}

// missingLogEvery is how often, at most, the log says that one optional
// object of one identity is missing: once per value-cache TTL, and at
// least a minute apart when the cache is off.
func (f *Fetcher) missingLogEvery() time.Duration {
	return max(f.opts.CacheTTL, time.Minute)
}

// reportMissing counts every optional object a Fetch leaves out and logs
// it once per object, identity and region per missingLogEvery. primaryErrs
// are the primary region's errors: an object whose primary read failed
// was left out on the failover region's word, when there is one (else on
// the primary's word last confirmed, served stale).
func (f *Fetcher) reportMissing(req FetchRequest, p plan, primaryErrs []error, values []Value) {
	c := req.Mount.Class
	for i, v := range values {
		if !v.Missing {
			continue
		}
		l, region := p.primary[i], req.Mount.Region
		if primaryErrs[i] != nil && c.FailoverRegion != "" {
			l, region = p.failover[i], c.FailoverRegion
		}
		if f.opts.Observer != nil {
			f.opts.Observer.ObserveOptionalMissing(string(l.svc.objectType))
		}
		if f.missingLogged.addIfAbsent(cacheKey(req.Scope, region, l), f.missingLogEvery()) {
			klog.InfoS("optional object is missing; its files are left out until it exists", "object", c.Objects[i].Label(),
				"service", l.svc.noun, "name", l.name, "region", region)
		}
	}
}
