package vlog

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// RateLimit limits the rate of the messages logged through it, as C's
// struct vlog_rate_limit (VLOG_RATE_LIMIT_INIT(RATE, BURST)): a token
// bucket that allows Burst messages at once and refills at Rate messages
// per minute. When a message is allowed after some were dropped, C first
// logs how many were dropped; Allow returns that text.
//
// As in C, the limit applies only to modules that honour rate limits (all
// of them, until vlog/disable-rate-limit; see RegisterCommands).
type RateLimit struct {
	rate, burst int // messages per minute, messages

	mu                        sync.Mutex
	tokens                    float64 // messages
	lastFill                  time.Time
	nDropped                  int
	firstDropped, lastDropped time.Time
	now                       func() time.Time
}

// NewRateLimit returns a limit of rate messages per minute with bursts of
// burst messages (C's VLOG_RATE_LIMIT_INIT(rate, burst)).
func NewRateLimit(rate, burst int) *RateLimit {
	return &RateLimit{rate: rate, burst: burst, now: time.Now}
}

// rateLimits is the process-wide state of vlog/enable-rate-limit and
// vlog/disable-rate-limit, as C's per-module honor_rate_limits flags:
// every module honours rate limits by default; explicit holds the
// modules set one by one since the last change of all of them.
var rateLimits struct {
	mu       sync.Mutex
	allOff   bool
	explicit map[string]bool
}

// HonorsRateLimits reports whether module's messages are rate limited
// (true unless vlog/disable-rate-limit turned them off).
func HonorsRateLimits(module string) bool {
	rateLimits.mu.Lock()
	defer rateLimits.mu.Unlock()
	if on, ok := rateLimits.explicit[module]; ok {
		return on
	}
	return !rateLimits.allOff
}

// SetRateLimits enables or disables the rate limits of the named modules;
// with no module, or "ANY" (any case), of every module.
func SetRateLimits(enable bool, modules ...string) {
	rateLimits.mu.Lock()
	defer rateLimits.mu.Unlock()
	all := func() {
		rateLimits.allOff = !enable
		rateLimits.explicit = nil
	}
	if len(modules) == 0 {
		all()
	}
	for _, m := range modules {
		if strings.EqualFold(m, "ANY") {
			all()
			continue
		}
		if rateLimits.explicit == nil {
			rateLimits.explicit = map[string]bool{}
		}
		rateLimits.explicit[m] = enable
	}
}

// Allow reports whether a message of module may be logged now. When it
// may and earlier messages were dropped, dropped is C's note to log
// first: "Dropped N log messages in last S seconds (most recently, S
// seconds ago) due to excessive rate".
func (rl *RateLimit) Allow(module string) (ok bool, dropped string) {
	if !HonorsRateLimits(module) {
		return true, ""
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	now := rl.now()
	if rl.tokens < 1 {
		if rl.lastFill.IsZero() {
			rl.tokens = float64(rl.burst)
		} else if el := now.Sub(rl.lastFill); el > 0 {
			rl.tokens = min(rl.tokens+el.Minutes()*float64(rl.rate), float64(rl.burst))
		}
		rl.lastFill = now
		if rl.tokens < 1 {
			if rl.nDropped == 0 {
				rl.firstDropped = now
			}
			rl.lastDropped = now
			rl.nDropped++
			return false, ""
		}
	}
	rl.tokens--
	if rl.nDropped > 0 {
		dropped = fmt.Sprintf("Dropped %d log messages in last %d seconds (most recently, %d seconds ago) due to excessive rate",
			rl.nDropped, now.Unix()-rl.firstDropped.Unix(), now.Unix()-rl.lastDropped.Unix())
		rl.nDropped = 0
	}
	return true, dropped
}
