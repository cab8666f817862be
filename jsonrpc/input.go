package jsonrpc

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Input memory limits. C ovsdb-server 3.1 has none but JSON's nesting depth
// (1000): a client can make it buffer a message of any size, on any number
// of connections. Ours are (jsonrpc/DESIGN.md, "Input limits"):
//   - per connection, a fixed read buffer (readBufSize), the message being
//     read (at most Options.MaxMessageSize bytes) and the requests read but
//     not yet started (reading pauses while they hold maxQueuedInput bytes
//     or more, as C reads nothing while it has a reply to send);
//   - for all sessions of a Server together, Options.InputBudget bytes for
//     the messages being read and the requests not yet started (their raw
//     size, standing for their decoded form).
const (
	// DefaultMaxMessageSize bounds one received JSON-RPC message.
	DefaultMaxMessageSize = 256 << 20
	// DefaultInputBudget bounds the input buffered by all sessions of a
	// Server together: twice the largest message, so that one message of
	// the largest size can be received while others are buffered.
	DefaultInputBudget = 2 * DefaultMaxMessageSize

	// readBufSize is a connection's read buffer. A message that fits is
	// decoded where it was read.
	readBufSize = 16 << 10
	// maxQueuedInput: a session stops reading while the requests it has
	// read and not yet started hold this many bytes or more.
	maxQueuedInput = 1 << 20
	// firstChunk and maxChunk size the pieces in which a message larger
	// than the read buffer is collected (no piece is copied while the
	// message grows, so an incomplete message costs what it holds).
	firstChunk = 64 << 10
	maxChunk   = 4 << 20
)

// budget is the input memory shared by the sessions of a Server.
//
// Every message read is charged: while it is being read (beyond the read
// buffer), then with its size until its request starts (or, for other
// messages, until it is handled). When a charge does not fit, the session
// holding the largest incomplete message is disconnected and its charge
// released, as many times as needed; if the session asking holds the
// largest incomplete message itself, or no session holds one, the asking
// session is disconnected instead. Nothing waits for budget: a client that
// fills the budget with messages it never completes loses its connections
// to anyone who sends more, and complete requests are released as soon as
// they run.
type budget struct {
	limit int64
	used  atomic.Int64

	mu sync.Mutex
	// partial holds the accounts with an incomplete message charged.
	partial map[*account]struct{}

	// collecting: a collection runs; again: one more is wanted.
	collecting, again atomic.Bool
}

// collectAfter is the size of an abandoned incomplete message after which
// the memory is collected at once (see collect).
const collectAfter = 16 << 20

// collect returns the memory of abandoned incomplete messages to the
// system now instead of when the heap has doubled: under hostile input
// that garbage would otherwise come on top of the budget (a disconnected
// session's chunks, up to MaxMessageSize each). Requests that come while
// a collection runs are served by one more collection.
func (b *budget) collect() {
	b.again.Store(true)
	if !b.collecting.CompareAndSwap(false, true) {
		return
	}
	go func() {
		for {
			for b.again.Swap(false) {
				debug.FreeOSMemory()
			}
			b.collecting.Store(false)
			if !b.again.Load() || !b.collecting.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

func newBudget(limit int64) *budget {
	return &budget{limit: limit, partial: map[*account]struct{}{}}
}

// account is one session's part of a budget.
type account struct {
	b *budget
	// evict closes the session's connection (called with b.mu held: it
	// must not block).
	evict func()
	// onEvict reports an eviction (called without locks held).
	onEvict func(victim *account, size int64)

	// Guarded by b.mu.
	partialSize int64 // charged for the incomplete message
	evicted     bool
	name        string
}

func (b *budget) newAccount(name string, evict func(), onEvict func(victim *account, size int64)) *account {
	if b == nil {
		return nil
	}
	return &account{b: b, evict: evict, onEvict: onEvict, name: name}
}

// Used reports the bytes charged (for tests and memory/show).
func (b *budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// charge adds n bytes to the account, as part of its incomplete message
// when partial. It returns false when the budget cannot hold them even
// after evicting other sessions: the caller must then end its session.
func (a *account) charge(n int64, partial bool) bool {
	if a == nil {
		return true
	}
	b := a.b
	if !partial {
		// Fast path: most charges fit.
		if b.used.Add(n) <= b.limit {
			return true
		}
		b.used.Add(-n)
	}
	var victims []*account
	var sizes []int64
	ok := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for {
			if a.evicted {
				return false
			}
			if b.used.Add(n) <= b.limit {
				if partial {
					a.partialSize += n
					b.partial[a] = struct{}{}
				}
				return true
			}
			b.used.Add(-n)
			var v *account
			for x := range b.partial {
				if x != a && (v == nil || x.partialSize > v.partialSize) {
					v = x
				}
			}
			if v == nil || v.partialSize <= a.partialSize {
				return false
			}
			v.evicted = true
			b.used.Add(-v.partialSize)
			victims = append(victims, v)
			sizes = append(sizes, v.partialSize)
			v.partialSize = 0
			delete(b.partial, v)
			v.evict()
		}
	}()
	for i, v := range victims {
		if a.onEvict != nil {
			a.onEvict(v, sizes[i])
		}
	}
	return ok
}

// release returns n bytes charged with charge(n, false).
func (a *account) release(n int64) {
	if a == nil || n == 0 {
		return
	}
	a.b.used.Add(-n)
}

// releasePartial returns the charge of the incomplete message (unless an
// eviction took it already) and converts keep bytes of it into an ordinary
// charge (the complete message, held until its request starts).
func (a *account) releasePartial(keep int64) {
	if a == nil {
		return
	}
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if a.evicted {
		// The charge was taken over by the eviction; keep must not be
		// returned later either, so charge it anew.
		b.used.Add(keep)
		return
	}
	b.used.Add(keep - a.partialSize)
	a.partialSize = 0
	delete(b.partial, a)
}
