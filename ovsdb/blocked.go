package ovsdb

import "context"

type blockedHookKey struct{}

// blockedHook is called at most once: hooks run in the goroutine of the
// transaction that blocked, so no synchronisation is needed.
type blockedHook struct {
	fn     func()
	called bool
}

// WithBlockedHook returns a context for Transact (or a replication mode's
// transact) that calls fn, once, in the transacting goroutine, when the
// transaction first blocks in an unsatisfied "wait". C turns such a
// transaction into a trigger and goes on with the client's next request;
// the JSON-RPC layer uses the hook to do the same (its next request does
// not wait for this one to finish).
func WithBlockedHook(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, blockedHookKey{}, &blockedHook{fn: fn})
}

// NotifyBlocked calls ctx's blocked hook if it has one that was not called
// yet. Every loop that retries a blocked "wait" calls it before waiting.
func NotifyBlocked(ctx context.Context) {
	if h, ok := ctx.Value(blockedHookKey{}).(*blockedHook); ok && !h.called {
		h.called = true
		h.fn()
	}
}
