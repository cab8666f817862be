package jsonrpc

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// TestRedialerProbeAndBackoff: a peer that never answers is dropped by
// the client's inactivity probe with C's lines; a refused attempt and a
// peer that closes are logged as C's reconnect does.
func TestRedialerProbeAndBackoff(t *testing.T) {
	var buf testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	sock := filepath.Join(t.TempDir(), "s.sock")
	remote := "unix:" + sock
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Nothing listens: the attempt fails.
	r := NewRedialer(remote, log)
	_, err := r.Dial(ctx)
	require.Error(t, err)

	// A peer that reads and never answers: the probe (1 s) sends an
	// echo after 1 s of silence, and drops the connection 1 s later.
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	r.SetProbe(time.Second)
	c, err := r.Dial(ctx)
	require.NoError(t, err)
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the probe did not drop a silent peer")
	}
	r.Disconnected(c)
	// The next connection: the peer closes it.
	r.SetProbe(0)
	c, err = r.Dial(ctx)
	require.NoError(t, err)
	(<-conns).Close()
	(<-conns).Close()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("no end of a connection the peer closed")
	}
	r.Disconnected(c)
	require.Equal(t, []string{
		"reconnect|INFO|" + remote + ": connecting...",
		"reconnect|INFO|" + remote + ": connection attempt failed (No such file or directory)",
		"reconnect|INFO|" + remote + ": connecting...",
		"reconnect|INFO|" + remote + ": connected",
		"reconnect|ERR|" + remote + ": no response to inactivity probe after 1 seconds, disconnecting",
		"reconnect|INFO|" + remote + ": connection dropped",
		// No data came on it: the backoff doubles, as C's.
		"reconnect|INFO|" + remote + ": waiting 2 seconds before reconnect",
		"reconnect|INFO|" + remote + ": connecting...",
		"reconnect|INFO|" + remote + ": connected",
		"reconnect|INFO|" + remote + ": connection closed by peer",
		"reconnect|INFO|" + remote + ": waiting 4 seconds before reconnect",
	}, vlogLines(&buf))

	// A remote that is not an active one fails every attempt; ssl:
	// without a TLS configuration too, as C's without key and
	// certificate.
	_, err = NewRedialer("punix:"+sock, log).Dial(ctx)
	require.Error(t, err)
	_, err = NewRedialer("ssl:127.0.0.1:1", log).Dial(ctx)
	require.ErrorIs(t, err, syscall.ENOPROTOOPT)
}
