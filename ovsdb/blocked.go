package ovsdb

import (
	"context"
	"time"
)

type blockHooksKey struct{}

// BlockHooks are called by a transaction that blocks in an unsatisfied
// "wait", in the transacting goroutine, by RetryBlocked (the blocked-wait
// loop of Database.Transact and of every replication mode).
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

// WithBlockHooks returns a context that carries h for Transact (of the
// engine or of a replication mode).
func WithBlockHooks(ctx context.Context, h BlockHooks) context.Context {
	return context.WithValue(ctx, blockHooksKey{}, h)
}

// NotifyBlocked calls ctx's Blocked hook, if any. RetryBlocked calls it
// before waiting.
func NotifyBlocked(ctx context.Context) {
	if h, ok := ctx.Value(blockHooksKey{}).(BlockHooks); ok && h.Blocked != nil {
		h.Blocked()
	}
}

// NotifyRetry calls ctx's Retry hook, if any. RetryBlocked calls it before
// executing the transaction again.
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

// RetryBlocked runs a transaction that may block in an unsatisfied "wait"
// until it is answered: the blocked-wait loop of every replication mode.
// It calls attempt with the time since the first attempt, in milliseconds
// (0 the first time), which decides whether a wait has timed out and is
// the N of its "timed out after N ms".
//
// attempt executes the transaction once. Unless blocked, res is the answer
// and RetryBlocked returns it as it is (nil meaning that ctx was canceled).
// When blocked, res is ignored; changed is a channel that is closed when
// executing again may satisfy the wait (a commit, or anything after which
// attempt itself will answer, such as a shutdown: nil for none), taken
// before the attempt looked at the state so that no change is missed; and
// timeoutMS is the smallest timeout of the waits, counted from the first
// attempt (negative: none).
//
// Blocked, RetryBlocked calls ctx's Blocked hook and waits for changed to
// be closed, the timeout to expire or ctx to be done. Canceled, it returns
// nil without calling the Retry hook. Otherwise it calls the Retry hook
// (which may wait for the session's turn), returns nil if ctx was canceled
// meanwhile, and calls attempt again; when the timeout expired the elapsed
// time passed is at least timeoutMS, so that attempt reports the wait as
// timed out. The hooks are thus called Blocked, Retry, Blocked, Retry...,
// in the calling goroutine, which runs attempt too.
func RetryBlocked(ctx context.Context,
	attempt func(elapsedMS int64) (res []any, blocked bool, changed <-chan struct{}, timeoutMS int64)) []any {
	start := time.Now()
	var elapsed int64
	for {
		res, blocked, changed, timeout := attempt(elapsed)
		if !blocked {
			return res
		}
		NotifyBlocked(ctx)
		var expired <-chan time.Time
		var timer *time.Timer
		if timeout >= 0 {
			wait := time.Duration(timeout)*time.Millisecond - time.Since(start)
			timer = time.NewTimer(max(wait, 0))
			expired = timer.C
		}
		timedOut := false
		select {
		case <-ctx.Done():
		case <-changed:
		case <-expired:
			timedOut = true
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
		NotifyRetry(ctx)
		if ctx.Err() != nil {
			return nil // canceled while waiting for its turn
		}
		elapsed = time.Since(start).Milliseconds()
		if timedOut && elapsed < timeout {
			elapsed = timeout
		}
	}
}
