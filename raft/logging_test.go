package raft

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// captureHandler records each message with its "module" attribute, whether
// that came from Logger.With or from the record itself.
type captureHandler struct {
	mu     *sync.Mutex
	got    *[][2]string // {module, message}
	module string
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	module := h.module
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "module" {
			module = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.got = append(*h.got, [2]string{module, r.Message})
	return nil
}

func (h *captureHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	for _, a := range attrs {
		if a.Key == "module" {
			n.module = a.Value.String()
		}
	}
	return &n
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

// TestLoggerFollowsDefault installs a handler after package init (as
// cmd/ovsdb-server does with its vlog handler) and checks that both the
// package's own lines and hashicorp/raft's lines (through slogWriter)
// reach it under module "raft".
func TestLoggerFollowsDefault(t *testing.T) {
	var mu sync.Mutex
	var got [][2]string
	old := slog.Default()
	slog.SetDefault(slog.New(&captureHandler{mu: &mu, got: &got}))
	t.Cleanup(func() { slog.SetDefault(old) })

	logger().Info("direct line from raft package")
	_, err := slogWriter{}.Write([]byte("[ERROR] raft: hashicorp line\n"))
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, got, [2]string{"raft", "direct line from raft package"})
	require.Contains(t, got, [2]string{"raft", "[ERROR] raft: hashicorp line"})
}
