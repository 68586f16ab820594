package provider

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// listRead is one read of every object a listing matches, in one region
// under one identity: what a service's readList is given.
type listRead struct {
	clients *Clients
	region  string
	creds   aws.CredentialsProvider
	listing *class.Listing
	// maxBytes bounds the values the listing holds at once, its share of
	// FetcherOptions.MaxListingBytes; past it the read stops
	// (failure.TooLarge): a listing is tenant input, and its matches could
	// otherwise hold maxObjects times the largest value.
	maxBytes int
}

// members collects a listing's matches, enforcing its bounds as they
// arrive: at most the listing's Max objects, at most maxBytes of values,
// and at most scanLimit objects looked at to find them.
type members struct {
	l       listRead
	noun    string // "secrets", "parameters"
	list    []Member
	bytes   int
	scanned int
}

// scanLimit is how many objects a listing may look at to find its matches
// (tags are checked here, not by AWS): ten for each match it may have, and
// at least a thousand, ten pages of ListSecrets.
func (ms *members) scanLimit() int { return max(1000, 10*ms.l.listing.Max) }

// scan counts one object looked at; its error stops the read.
func (ms *members) scan() error {
	if ms.scanned++; ms.scanned > ms.scanLimit() {
		l := ms.l.listing
		return refusedListing(failure.InvalidArgument,
			"%s %q with objectTags looks through more than %d %s to find its matches (ten for each of its maxObjects %d, at least 1000); narrow %s so that fewer %s start with it",
			l.Field, l.Prefix, ms.scanLimit(), ms.noun, l.Max, l.Field, ms.noun)
	}
	return nil
}

// add takes one match; its error stops the read.
func (ms *members) add(m Member) error {
	ms.list = append(ms.list, m)
	if len(ms.list) > ms.l.listing.Max {
		return ms.tooMany(len(ms.list))
	}
	ms.bytes += len(m.Name) + len(m.Data) + len(m.Version)
	if ms.bytes > ms.l.maxBytes {
		return refusedListing(failure.TooLarge,
			"%s %q matches %s whose values add up to more than %s, its share of what one Mount answers (--max-response-bytes, shared by the class's listings); narrow %s or lower maxObjects",
			ms.l.listing.Field, ms.l.listing.Prefix, ms.noun, failure.Bytes(ms.l.maxBytes), ms.l.listing.Field)
	}
	return nil
}

// tooMany is the error for a listing with at least n > Max matches: the
// read stops at the first match past the bound.
func (ms *members) tooMany(n int) error {
	l := ms.l.listing
	return refusedListing(failure.InvalidArgument,
		"%s %q matches %d %s or more, more than its maxObjects %d; narrow %s, or raise maxObjects (at most %d)",
		l.Field, l.Prefix, n, ms.noun, l.Max, l.Field, class.MaxListedObjects)
}

// done returns the matches, or an absence error naming the listing when
// there are none (an optional listing is then left out).
func (ms *members) done(code string) ([]Member, error) {
	if len(ms.list) == 0 {
		return nil, apiError(code, fmt.Sprintf("no %s match %s %q", ms.noun, ms.l.listing.Field, ms.l.listing.Prefix), smithy.FaultClient)
	}
	slices.SortFunc(ms.list, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return ms.list, nil
}

// refusedListing is a listing this daemon refuses after reading AWS's
// answer (too many matches, too many bytes): a client fault, so neither
// the failover region nor a stale value covers it.
func refusedListing(kind failure.Kind, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &failure.Error{Kind: kind, Msg: msg, Causes: []error{apiError("ListingRefused", msg, smithy.FaultClient)}}
}

// readListings reads the listing objects at positions idx of r.reads,
// each in a flight of its own.
func (r *regionRead) readListings(ctx context.Context, idx []int) {
	done := make(chan struct{}, len(idx))
	for _, j := range idx {
		go func() {
			defer func() { done <- struct{}{} }()
			r.readListing(ctx, j)
		}()
	}
	for range idx {
		<-done
	}
}

// readListing reads every object the listing at position j matches, from
// the cache where it may (one entry holds the whole set, confirmed by the
// read that listed it: the set is listed again with every revalidation,
// so an object created or deleted under the prefix shows within the TTL)
// and otherwise from AWS. Concurrent identical listings share one read.
func (r *regionRead) readListing(ctx context.Context, j int) {
	f, l := r.f, r.reads[j]
	key := r.key(j)
	flight := "list\x00" + key + flightSuffix(l.optional) + "\x00" + strconv.Itoa(l.listBytes)
	v, err := joinFreshFlight(ctx, r, flight, func(ctx context.Context, notBefore time.Time) (Value, time.Time, error) {
		if v, at, ok := f.cache.get(key, notBefore, l.optional); ok {
			return v, at, nil
		}
		readAt := f.opts.Clock()
		ms, err := l.svc.readList(ctx, listRead{clients: f.clients, region: r.region, creds: r.creds, listing: l.list, maxBytes: l.listBytes})
		switch {
		case err == nil:
			v := Value{Members: ms}
			f.cache.put(key, v, false, readAt)
			return v, readAt, nil
		case isAbsent(err):
			f.cache.putAbsent(key, readAt)
		}
		return Value{}, readAt, err
	})
	if err != nil {
		r.errs[j] = err
		return
	}
	r.values[l.index] = v
}

// expandListings replaces each listing object of c that matched members
// with one object per member (class.Class.Member), and its value with
// theirs, so that the files are built as for named objects: members in
// name order, each with the listing's jmesPath, jsonKeysAsFiles and
// objectEncoding. listed reports whether any listing was expanded; a
// class without one is returned as is.
func expandListings(c *class.Class, values []Value) (_ *class.Class, _ []Value, listed bool, _ error) {
	n := 0
	for i := range c.Objects {
		if c.Objects[i].Listing != nil && !values[i].Missing {
			listed = true
			n += len(values[i].Members)
		} else {
			n++
		}
	}
	if !listed {
		return c, values, false, nil
	}
	out := *c
	out.Objects = make([]class.Object, 0, n)
	vs := make([]Value, 0, n)
	for i := range c.Objects {
		o := &c.Objects[i]
		if o.Listing == nil || values[i].Missing {
			out.Objects = append(out.Objects, *o)
			vs = append(vs, values[i])
			continue
		}
		for _, m := range values[i].Members {
			mo, err := c.Member(o, m.Name)
			if err != nil {
				return nil, nil, false, err
			}
			out.Objects = append(out.Objects, mo)
			vs = append(vs, Value{Data: m.Data, Version: m.Version})
		}
	}
	return &out, vs, true, nil
}
