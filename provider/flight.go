package provider

import (
	"context"
	"strconv"
	"time"
)

// joinFreshFlight is joinFlight for a caller that needs a confirmation no
// older than r.notBefore (its pod's previous Mount): having joined a flight
// whose answer AWS gave before that, it asks again in a flight of its own.
func joinFreshFlight[T any](ctx context.Context, r *regionRead, key string, fn func(ctx context.Context, notBefore time.Time) (T, time.Time, error)) (T, error) {
	v, at, err := joinFlight(ctx, r, key, fn)
	if err == nil && at.Before(r.notBefore) {
		v, _, err = joinFlight(ctx, r, key+"\x00after\x00"+strconv.FormatInt(r.notBefore.UnixNano(), 10), fn)
	}
	return v, err
}

// timed is a flight's answer and when AWS confirmed it.
type timed[T any] struct {
	v  T
	at time.Time
}

// joinFlight runs fn once for every concurrent caller with the same key (one
// AWS call for a burst of pods with the same identity and objects); fn
// returns its answer and when AWS confirmed it. fn runs detached from any
// one caller's cancellation, bounded by CallTimeout.
func joinFlight[T any](ctx context.Context, r *regionRead, key string, fn func(ctx context.Context, notBefore time.Time) (T, time.Time, error)) (T, time.Time, error) {
	f, notBefore := r.f, r.notBefore
	ch := f.flight.DoChan(key, func() (any, error) {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.opts.CallTimeout)
		defer cancel()
		v, at, err := fn(c, notBefore)
		return timed[T]{v: v, at: at}, err
	})
	select {
	case res := <-ch:
		t, _ := res.Val.(timed[T])
		return t.v, t.at, res.Err
	case <-ctx.Done():
		var zero T
		return zero, time.Time{}, ctx.Err()
	}
}
