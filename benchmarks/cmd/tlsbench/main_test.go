package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestContainsError(t *testing.T) {
	require.False(t, containsError(json.RawMessage(`[{"uuid":["uuid","0b4b5e6c-3b0b-4c0e-9f0e-2f3c9f7e1a11"]}]`)))
	require.True(t, containsError(json.RawMessage(`[{"uuid":["uuid","x"]},{"error":"constraint violation"}]`)))
	require.True(t, containsError(json.RawMessage(`{"error":"syntax"}`)))
}

func TestPercentiles(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50.0, pct(lat, 50))
	require.Equal(t, 99.0, pct(lat, 99))
	require.Equal(t, 0.0, pct(nil, 50))
	require.Equal(t, 2.5, perOp(5*time.Microsecond, 2))
	require.Equal(t, 0.0, perOp(time.Second, 0))
}
