package provider

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"k8s.io/klog/v2"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// regionRead is one Fetch's read of some objects in one region under one
// identity scope. values is indexed by objectRead.index (the class's
// objects), errs and held by position in reads.
type regionRead struct {
	f         *Fetcher
	scope     string
	region    string
	creds     aws.CredentialsProvider
	notBefore time.Time
	reads     []objectRead
	values    []Value
	errs      []error
	// held marks reads whose cached entry is past its TTL: for a pinned
	// version that means only this identity's access needs confirming.
	held []bool
}

func (r *regionRead) key(j int) string { return cacheKey(r.scope, r.region, r.reads[j]) }

// read fetches objects in one region under one identity scope, from the
// cache where it may and otherwise from AWS, filling values[l.index]; it
// returns one error per read (nil on success), in the order of reads. A
// read AWS refused or does not know (a client fault) is dropped from the
// cache: it is served from no cache, not even as a stale value.
func (f *Fetcher) read(ctx context.Context, req FetchRequest, region string, reads []objectRead, values []Value) []error {
	r := &regionRead{
		f: f, scope: req.Scope, region: region, creds: req.Credentials, notBefore: req.NotBefore,
		reads: reads, values: values, errs: make([]error, len(reads)), held: make([]bool, len(reads)),
	}
	byService := map[*service][]int{}
	var lists []int
	for j, l := range reads {
		e, fr := f.cache.lookup(r.key(j), req.NotBefore)
		if f.opts.Observer != nil && f.cache.enabled() && !req.background {
			f.opts.Observer.ObserveValueLookup(fr == fresh && (!e.value.Missing || l.optional))
		}
		if fr == fresh && (!e.value.Missing || l.optional) {
			values[l.index] = e.value
			continue
		}
		r.held[j] = fr == stale && !e.value.Missing
		if l.list != nil {
			lists = append(lists, j)
			continue
		}
		byService[l.svc] = append(byService[l.svc], j)
	}
	// Each service reads its objects at the same time as the others, and
	// as the listings.
	var wg sync.WaitGroup
	for svc, idx := range byService {
		wg.Go(func() { svc.read(r, ctx, idx) })
	}
	if len(lists) > 0 {
		wg.Go(func() { r.readListings(ctx, lists) })
	}
	wg.Wait()
	r.settle()
	return r.errs
}

// settle applies what AWS said to the cache and to optional objects: a
// client fault removes the cached value (a missing object's read already
// recorded the absence in its place), and an optional object that does
// not exist is left out instead of failing (docs/compatibility.md).
func (r *regionRead) settle() {
	for j, err := range r.errs {
		l := r.reads[j]
		switch {
		case err == nil:
		case l.optional && isAbsent(err):
			r.errs[j] = nil
			r.values[l.index] = Value{Missing: true}
		case failure.IsClientFault(err):
			r.f.cache.remove(r.key(j), isAbsent(err))
		}
	}
}

// serveStale fills values[i] with the last good value of object i when both
// its primary read and its failover read (if any) failed with something
// other than a client fault, and AWS confirmed that value for this identity
// within StaleMax. It counts and logs it (once per object per StaleMax) and
// reports whether it served one. A denial or a missing object is never
// covered: AWS's last word then is "no".
func (f *Fetcher) serveStale(req FetchRequest, p plan, i int, err, ferr error, values []Value) bool {
	if failure.IsClientFault(err) || (ferr != nil && failure.IsClientFault(ferr)) {
		return false
	}
	c := req.Mount.Class
	candidates := []struct {
		region string
		l      objectRead
	}{{req.Mount.Region, p.primary[i]}}
	if c.FailoverRegion != "" {
		candidates = append(candidates, struct {
			region string
			l      objectRead
		}{c.FailoverRegion, p.failover[i]})
	}
	for _, cand := range candidates {
		key := cacheKey(req.Scope, cand.region, cand.l)
		e, ok := f.cache.servableStale(key)
		if !ok || (e.value.Missing && !cand.l.optional) {
			continue
		}
		values[i] = e.value
		if f.opts.Observer != nil {
			f.opts.Observer.ObserveStaleValue(string(cand.l.svc.objectType))
		}
		if f.staleLogged.addIfAbsent(key, f.opts.StaleMax) {
			o := c.Objects[i]
			what := "serving the last good value: AWS could not be reached"
			if e.value.Missing {
				what = "leaving an optional object out as AWS last said it is missing: AWS could not be reached"
			}
			klog.InfoS(what, "object", o.Label(),
				"service", cand.l.svc.noun, "region", cand.region, "confirmedAgo", f.opts.Clock().Sub(e.confirmedAt).Round(time.Second),
				"staleMax", f.opts.StaleMax, "cause", failure.Describe(err))
		}
		return true
	}
	return false
}
