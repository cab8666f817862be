package jsonrpc

// The reconnection state machine of an active remote, with the behaviour
// of C's lib/reconnect.c (states, backoff, log lines) as an ovsdb-server
// active remote uses it: it is always enabled, retries forever and logs at
// INFO level. The inactivity probe of a connection is the session's own
// (Session.prober); the machine only learns how the connection ended.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// Backoff bounds of an active remote (C's RECONNECT_DEFAULT_MIN_BACKOFF
// and RECONNECT_DEFAULT_MAX_BACKOFF).
const (
	MinBackoff        = time.Second
	DefaultMaxBackoff = 8 * time.Second
)

// rstate is a state of the machine; the names are C's, shown in the
// status column of a remote's row ("state" key).
type rstate int

const (
	stVoid rstate = iota
	stBackoff
	stConnecting
	stActive
	stIdle
	stReconnect
)

var rstateNames = [...]string{"VOID", "BACKOFF", "CONNECTING", "ACTIVE", "IDLE", "RECONNECT"}

func (s rstate) String() string { return rstateNames[s] }

func (s rstate) connected() bool { return s == stActive || s == stIdle }

// errProbeTimeout ends a connection whose peer did not answer the
// inactivity probe: C reports it as a disconnection without error.
var errProbeTimeout = errors.New("no response to inactivity probe")

// reconnectFSM is one active remote's state machine. It is not safe for
// concurrent use: its owner (activeRemote) serialises the calls. Times are
// passed in so that tests can step it.
type reconnectFSM struct {
	name       string
	log        *slog.Logger // module reconnect
	maxBackoff time.Duration

	state        rstate
	stateEntered time.Time
	backoff      time.Duration
	// lastActivity is the last time data was received on the connection
	// (C's reconnect_activity); lastConnected and lastDisconnected are
	// zero until the first connection and disconnection.
	lastActivity     time.Time
	lastConnected    time.Time
	lastDisconnected time.Time
}

func newReconnectFSM(name string, log *slog.Logger, now time.Time) *reconnectFSM {
	return &reconnectFSM{
		name: name, log: log.With("module", "reconnect"), maxBackoff: DefaultMaxBackoff,
		state: stVoid, stateEntered: now, lastActivity: now,
	}
}

func (f *reconnectFSM) info(msg string) { f.log.Info(f.name + ": " + msg) }

func (f *reconnectFSM) transition(now time.Time, s rstate) {
	f.log.Debug(f.name + ": entering " + s.String())
	f.state, f.stateEntered = s, now
}

// enable starts the machine: connect at once.
func (f *reconnectFSM) enable(now time.Time) {
	if f.state == stVoid {
		f.transition(now, stBackoff)
		f.backoff = 0
	}
}

// setMaxBackoff sets the largest wait between attempts: 0 means the
// default, anything else at least MinBackoff (C's reconnect_set_backoff
// with a default minimum).
func (f *reconnectFSM) setMaxBackoff(d time.Duration) {
	switch {
	case d == 0:
		f.maxBackoff = DefaultMaxBackoff
	case d < MinBackoff:
		f.maxBackoff = MinBackoff
	default:
		f.maxBackoff = d
	}
	// As C, a pending wait is cut to the new bound as given (C compares
	// with its argument, not the adjusted maximum).
	if f.state == stBackoff && f.backoff > d {
		f.backoff = d
	}
}

// deadline is when the machine wants to act: the end of the backoff wait
// (connect) or of the connection attempt (give up), zero if it waits for
// nothing.
func (f *reconnectFSM) deadline() time.Time {
	switch f.state {
	case stBackoff:
		return f.stateEntered.Add(f.backoff)
	case stConnecting:
		return f.stateEntered.Add(max(MinBackoff, f.backoff))
	case stReconnect:
		return f.stateEntered
	}
	return time.Time{}
}

// connectTimeout is how long a connection attempt may take.
func (f *reconnectFSM) connectTimeout() time.Duration { return max(MinBackoff, f.backoff) }

// connecting records the start of a connection attempt.
func (f *reconnectFSM) connecting(now time.Time) {
	if f.state != stConnecting {
		if f.backoff < f.maxBackoff {
			f.info("connecting...")
		}
		f.transition(now, stConnecting)
	}
}

// connected records a successful connection.
func (f *reconnectFSM) connected(now time.Time) {
	if !f.state.connected() {
		f.connecting(now)
		f.info("connected")
		f.transition(now, stActive)
		f.lastConnected = now
	}
}

// connectFailed records a failed connection attempt.
func (f *reconnectFSM) connectFailed(now time.Time, err error) {
	f.connecting(now)
	f.disconnected(now, err)
}

// forceReconnect makes the current connection end as C's
// reconnect_force_reconnect (the server disconnected it: ovsdb-server/
// reconnect, a database added or removed).
func (f *reconnectFSM) forceReconnect(now time.Time) {
	if f.state == stConnecting || f.state.connected() {
		f.transition(now, stReconnect)
	}
}

// idle and active mirror the session's probe: IDLE while a probe is
// unanswered.
func (f *reconnectFSM) setIdle(idle bool, now time.Time) {
	switch {
	case idle && f.state == stActive:
		f.transition(now, stIdle)
	case !idle && f.state == stIdle:
		f.transition(now, stActive)
	}
}

// errText is C's text for the reason of a failure: strerror of the
// system error, or the error's own text.
func errText(err error) string { return ovsdberr.Strerror(err) }

// disconnected records the end of the connection or of the attempt: err
// nil means no specific error (a timeout, a probe without answer, a
// forced reconnection), io.EOF that the peer closed the connection. The
// machine then backs off as C does: after a connection that saw activity
// for at least the current backoff, the minimum; otherwise the backoff
// doubles up to the maximum.
func (f *reconnectFSM) disconnected(now time.Time, err error) {
	if f.state == stBackoff || f.state == stVoid {
		return
	}
	switch {
	case f.state.connected():
		switch {
		case err == nil || errors.Is(err, errProbeTimeout):
			f.info("connection dropped")
		case errors.Is(err, io.EOF):
			f.info("connection closed by peer")
		default:
			f.log.Warn(fmt.Sprintf("%s: connection dropped (%s)", f.name, errText(err)))
		}
	case f.backoff < f.maxBackoff:
		if err != nil {
			f.info(fmt.Sprintf("connection attempt failed (%s)", errText(err)))
		} else {
			f.info("connection attempt timed out")
		}
	}
	wasConnected := f.state.connected()
	if wasConnected {
		f.lastDisconnected = now
	}
	switch {
	case wasConnected && f.lastActivity.Sub(f.lastConnected) >= f.backoff:
		f.backoff = MinBackoff
	case f.backoff < MinBackoff:
		f.backoff = MinBackoff
	case f.backoff < f.maxBackoff/2:
		f.backoff *= 2
		f.info("waiting " + strconv.FormatFloat(f.backoff.Seconds(), 'g', 3, 64) + " seconds before reconnect")
	default:
		if f.backoff < f.maxBackoff {
			f.info("continuing to reconnect in the background but suppressing further logging")
		}
		f.backoff = f.maxBackoff
	}
	f.transition(now, stBackoff)
}

// ActiveStatus is the state of an active remote, as C reports it in the
// status column of the remote's row.
type ActiveStatus struct {
	// State is C's state name: "BACKOFF", "CONNECTING", "ACTIVE",
	// "IDLE" (a probe is unanswered), "RECONNECT" or "VOID".
	State string
	// Connected is true in ACTIVE and IDLE.
	Connected bool
	// SinceConnect and SinceDisconnect are the times since the last
	// connection and disconnection; negative: never.
	SinceConnect, SinceDisconnect time.Duration
	// Session is the connection's session while connected (else nil).
	Session *Session
}

func (f *reconnectFSM) status(now time.Time) ActiveStatus {
	st := ActiveStatus{State: f.state.String(), Connected: f.state.connected(), SinceConnect: -1, SinceDisconnect: -1}
	if !f.lastConnected.IsZero() {
		st.SinceConnect = now.Sub(f.lastConnected)
	}
	if !f.lastDisconnected.IsZero() {
		st.SinceDisconnect = now.Sub(f.lastDisconnected)
	}
	return st
}
