package server

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/stats"
)

// DefaultMaxAnswerBytesInFlight bounds the bytes of Mount answers the daemon
// holds at once, from the moment a Mount's files are built until gRPC has
// sent them. One answer may be up to --max-response-bytes (about 4 MiB) and
// gRPC holds an encoded copy while the driver reads it: without a bound, a
// hundred concurrent Mounts of large classes would need about 800 MiB.
const DefaultMaxAnswerBytesInFlight = 48 << 20

// answerBudget is that bound. A Mount takes its answer's size from it
// (waiting within its deadline) and gives it back when the RPC has ended,
// which the stats handler observes after the answer was written.
type answerBudget struct {
	sem   *semaphore.Weighted
	limit int64
}

func newAnswerBudget(limit int64) *answerBudget {
	return &answerBudget{sem: semaphore.NewWeighted(limit), limit: limit}
}

// hold is per RPC: what to give back when it ends.
type hold struct {
	mu      sync.Mutex
	release func()
}

type holdKey struct{}

// take reserves n bytes for the RPC of ctx until it ends.
func (b *answerBudget) take(ctx context.Context, n int) error {
	w := min(int64(n), b.limit)
	if w <= 0 {
		return nil
	}
	if err := b.sem.Acquire(ctx, w); err != nil {
		return err
	}
	release := func() { b.sem.Release(w) }
	h, ok := ctx.Value(holdKey{}).(*hold)
	if !ok {
		// Not served through NewGRPCServer (a direct call in a test): give
		// it back at once.
		release()
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	prev := h.release
	h.release = func() {
		if prev != nil {
			prev()
		}
		release()
	}
	return nil
}

// statsHandler gives each RPC a hold and releases it when the RPC ends.
type statsHandler struct{}

var _ stats.Handler = statsHandler{}

func (statsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, holdKey{}, &hold{})
}

func (statsHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.End); !ok {
		return
	}
	if h, ok := ctx.Value(holdKey{}).(*hold); ok {
		h.mu.Lock()
		release := h.release
		h.release = nil
		h.mu.Unlock()
		if release != nil {
			release()
		}
	}
}

func (statsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (statsHandler) HandleConn(context.Context, stats.ConnStats)                       {}
