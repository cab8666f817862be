package raft

import (
	"io"
	"log/slog"
	"time"

	hraft "github.com/hashicorp/raft"
)

func netLogger() *slog.Logger { return slog.Default().With("module", "raft_net") }

// NewTransport returns a hashicorp/raft NetworkTransport carried by the
// Mux's Raft connections. Server addresses are C's "tcp:IP:PORT".
func (m *Mux) NewTransport(timeout time.Duration) *hraft.NetworkTransport {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return hraft.NewNetworkTransportWithConfig(&hraft.NetworkTransportConfig{
		Stream:  streamLayer{m},
		MaxPool: 4,
		Timeout: timeout,
		Logger:  HraftConfig("", 0).Logger,
	})
}

var _ io.Closer = (*Mux)(nil)
