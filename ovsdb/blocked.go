package ovsdb

import "context"

type blockHooksKey struct{}

// BlockHooks are called by a transaction that blocks in an unsatisfied
// "wait", in the transacting goroutine (Transact, or a replication mode's
// blocked-wait loop).
//
// C turns such a transaction into a trigger and goes on with the client's
// next request; when a commit may satisfy the wait, C executes the trigger
// again before it reads more requests. The JSON-RPC layer uses the hooks to
// do the same: Blocked lets the session's next requests run, Retry waits
// for the session's turn before the transaction executes again.
type BlockHooks struct {
	// Blocked is called each time the transaction is about to wait.
	Blocked func()
	// Retry is called each time it is about to execute again after
	// waiting (a commit, or its timeout), so that calls alternate:
	// Blocked, Retry, Blocked, Retry... It is not called when the wait
	// ends by cancellation.
	Retry func()
	// Waiting is called when the transaction, still the session's
	// current request, is about to wait for something other than its own
	// execution: a clustered transaction waiting for its commit, which C
	// runs as a trigger while it reads the session's next messages (a
	// cancel, an echo, the end of the connection). It may be called more
	// than once.
	Waiting func()
}

// WithBlockHooks returns a context that carries h for Transact.
func WithBlockHooks(ctx context.Context, h BlockHooks) context.Context {
	return context.WithValue(ctx, blockHooksKey{}, h)
}

// NotifyBlocked calls ctx's Blocked hook, if any. Every loop that retries a
// blocked "wait" calls it before waiting.
func NotifyBlocked(ctx context.Context) {
	if h, ok := ctx.Value(blockHooksKey{}).(BlockHooks); ok && h.Blocked != nil {
		h.Blocked()
	}
}

// NotifyRetry calls ctx's Retry hook, if any. Every loop that retries a
// blocked "wait" calls it before executing the transaction again.
func NotifyRetry(ctx context.Context) {
	if h, ok := ctx.Value(blockHooksKey{}).(BlockHooks); ok && h.Retry != nil {
		h.Retry()
	}
}

// NotifyWaiting calls ctx's Waiting hook, if any.
func NotifyWaiting(ctx context.Context) {
	if h, ok := ctx.Value(blockHooksKey{}).(BlockHooks); ok && h.Waiting != nil {
		h.Waiting()
	}
}
