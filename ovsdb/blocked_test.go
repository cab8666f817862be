package ovsdb

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hookLog records the BlockHooks calls of a context.
func hookLog(ctx context.Context) (context.Context, *[]string) {
	var calls []string
	return WithBlockHooks(ctx, BlockHooks{
		Blocked: func() { calls = append(calls, "blocked") },
		Retry:   func() { calls = append(calls, "retry") },
	}), &calls
}

func TestRetryBlockedNotBlocked(t *testing.T) {
	ctx, calls := hookLog(context.Background())
	var elapsed []int64
	res := RetryBlocked(ctx, func(ms int64) ([]any, bool, <-chan struct{}, int64) {
		elapsed = append(elapsed, ms)
		return []any{"done"}, false, nil, -1
	})
	require.Equal(t, []any{"done"}, res)
	require.Equal(t, []int64{0}, elapsed)
	require.Empty(t, *calls)
}

func TestRetryBlockedChanged(t *testing.T) {
	ctx, calls := hookLog(context.Background())
	n := 0
	res := RetryBlocked(ctx, func(ms int64) ([]any, bool, <-chan struct{}, int64) {
		n++
		if n == 3 {
			return []any{n}, false, nil, -1
		}
		ch := make(chan struct{})
		close(ch) // changed already: retry at once
		return nil, true, ch, -1
	})
	require.Equal(t, []any{3}, res)
	require.Equal(t, []string{"blocked", "retry", "blocked", "retry"}, *calls)
}

func TestRetryBlockedTimeout(t *testing.T) {
	ctx, calls := hookLog(context.Background())
	var elapsed []int64
	res := RetryBlocked(ctx, func(ms int64) ([]any, bool, <-chan struct{}, int64) {
		elapsed = append(elapsed, ms)
		if ms >= 30 {
			return []any{"timed out"}, false, nil, -1
		}
		return nil, true, make(chan struct{}), 30 // never changes
	})
	require.Equal(t, []any{"timed out"}, res)
	require.Len(t, elapsed, 2)
	require.Equal(t, int64(0), elapsed[0])
	require.GreaterOrEqual(t, elapsed[1], int64(30))
	require.Equal(t, []string{"blocked", "retry"}, *calls)
}

func TestRetryBlockedCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ctx, calls := hookLog(ctx)
	n := 0
	res := RetryBlocked(ctx, func(ms int64) ([]any, bool, <-chan struct{}, int64) {
		n++
		time.AfterFunc(time.Millisecond, cancel)
		return nil, true, nil, -1 // no change, no timeout: only ctx ends the wait
	})
	require.Nil(t, res)
	require.Equal(t, 1, n)
	require.Equal(t, []string{"blocked"}, *calls, "no Retry after cancellation")
}

func TestRetryBlockedCanceledWhileRetrying(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ctx = WithBlockHooks(ctx, BlockHooks{Retry: cancel}) // canceled while waiting for its turn
	n := 0
	res := RetryBlocked(ctx, func(ms int64) ([]any, bool, <-chan struct{}, int64) {
		n++
		ch := make(chan struct{})
		close(ch)
		return nil, true, ch, -1
	})
	require.Nil(t, res)
	require.Equal(t, 1, n)
}
