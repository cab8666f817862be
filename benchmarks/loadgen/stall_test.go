package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		lat  []time.Duration
		want LatencySummary
	}{
		{"empty", nil, LatencySummary{}},
		{"one", []time.Duration{3 * ms}, LatencySummary{N: 1, P50Milli: 3, P999Milli: 3, MaxMilli: 3}},
		{"unsorted", []time.Duration{4 * ms, 1 * ms, 3 * ms, 2 * ms}, LatencySummary{N: 4, P50Milli: 2, P999Milli: 4, MaxMilli: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, summarize(tc.lat))
		})
	}
	// 2000 samples of 1..2000 ms: p99.9 is rank 1998.
	lat := make([]time.Duration, 2000)
	for i := range lat {
		lat[len(lat)-1-i] = time.Duration(i+1) * ms
	}
	s := summarize(lat)
	require.Equal(t, 1998.0, s.P999Milli)
	require.Equal(t, 1000.0, s.P50Milli)
	require.Equal(t, 2000.0, s.MaxMilli)
}

func TestSplitByWindows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	span := func(a, b int) Span { return Span{at(a), at(b)} }
	windows := []Span{span(100, 200), span(500, 600)}
	txns := []Span{
		span(0, 10),    // before: out
		span(90, 100),  // touches window start: in
		span(150, 160), // inside: in
		span(190, 450), // starts in, ends out: in
		span(201, 210), // between: out
		span(450, 700), // covers the second: in
		span(601, 605), // after: out
	}
	in, out := SplitByWindows(txns, windows)
	require.Equal(t, LatencySummary{N: 4, P50Milli: 10, P999Milli: 260, MaxMilli: 260}, in)
	require.Equal(t, LatencySummary{N: 3, P50Milli: 9, P999Milli: 10, MaxMilli: 10}, out)

	in, out = SplitByWindows(txns, nil)
	require.Zero(t, in.N)
	require.Equal(t, len(txns), out.N)
}

func TestStallOptionsDefaults(t *testing.T) {
	o := StallOptions{Tail: -1}
	o.defaults()
	require.Equal(t, 3, o.Compactions)
	require.Equal(t, 2*time.Second, o.Gap)
	require.Zero(t, o.Tail)
	require.Equal(t, 60*time.Second, o.TxnTimeout)
}

func TestStallResultFill(t *testing.T) {
	t0 := time.Unix(1000, 0)
	span := func(a, b int) Span {
		return Span{t0.Add(time.Duration(a) * time.Millisecond), t0.Add(time.Duration(b) * time.Millisecond)}
	}
	var r StallResult
	r.fill([]Span{span(100, 200), span(500, 600)},
		[]Span{span(0, 5), span(150, 190), span(195, 198), span(550, 551)},
		[]time.Duration{90 * time.Millisecond, 80 * time.Millisecond})
	require.Equal(t, []float64{90, 80}, r.CompactMillis)
	require.Equal(t, []float64{40, 1}, r.WindowMaxMillis)
	require.Equal(t, 3, r.During.N)
	require.Equal(t, 1, r.Outside.N)
}
