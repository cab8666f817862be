package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/fastjson"
)

// TestReaderFraming splits back-to-back messages read one byte at a time
// and in one piece, and enforces the size limit.
func TestReaderFraming(t *testing.T) {
	in := `  {"a":"}]"}[1,[2]]` + "\n" + `{"b":"x\"{"}{"c":"\\"}`
	want := []string{`{"a":"}]"}`, `[1,[2]]`, `{"b":"x\"{"}`, `{"c":"\\"}`}
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one-byte": iotest.OneByteReader(strings.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			rd := newReader(r, 0, nil)
			for _, w := range want {
				b, _, err := rd.next()
				require.NoError(t, err)
				require.Equal(t, w, string(b))
			}
			_, _, err := rd.next()
			require.ErrorIs(t, err, io.EOF)
		})
	}
	rd := newReader(strings.NewReader(`[1,2]{"a":1}`), 5, nil)
	b, _, err := rd.next()
	require.NoError(t, err)
	require.Equal(t, `[1,2]`, string(b))
	_, _, err = rd.next()
	require.ErrorIs(t, err, errProtocol)
	_, _, err = newReader(strings.NewReader(`[1,2`), 0, nil).next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, _, err = newReader(strings.NewReader(` x`), 0, nil).next()
	require.ErrorIs(t, err, errProtocol)
}

// endless is an unending stream of one pattern that counts what was read.
type endless struct {
	pattern []byte
	n       int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.pattern[(e.n+i)%len(e.pattern)]
	}
	e.n += len(p)
	return len(p), nil
}

// TestReaderDepth checks C's nesting limit: 1000 open arrays and objects
// are read, the 1001st is refused at once, so an unclosed "[[[[..." stream
// costs no more than the read buffer (C drops such a connection after
// 1001 bytes with "input exceeds maximum nesting depth 1000").
func TestReaderDepth(t *testing.T) {
	ok := strings.Repeat("[", fastjson.MaxDepth) + strings.Repeat("]", fastjson.MaxDepth)
	b, _, err := newReader(strings.NewReader(ok), 0, nil).next()
	require.NoError(t, err)
	require.Equal(t, ok, string(b))
	mixed := strings.Repeat(`{"a":[`, fastjson.MaxDepth/2) + strings.Repeat("]}", fastjson.MaxDepth/2)
	_, _, err = newReader(strings.NewReader(mixed), 0, nil).next()
	require.NoError(t, err)

	for _, pattern := range []string{"[", `{"a":`, `[{"":`, "[ \n"} {
		e := &endless{pattern: []byte(pattern)}
		b := newBudget(1 << 20)
		_, _, err := newReader(e, 0, b.newAccount("x", func() {}, nil)).next()
		require.ErrorIs(t, err, errProtocol)
		require.ErrorContains(t, err, "input exceeds maximum nesting depth 1000")
		require.LessOrEqual(t, e.n, readBufSize, "%q: read %d bytes", pattern, e.n)
		require.Zero(t, b.Used())
	}
	// Brackets inside strings do not count.
	s := `["` + strings.Repeat("[{", 2000) + `"]`
	b, _, err = newReader(strings.NewReader(s), 0, nil).next()
	require.NoError(t, err)
	require.Equal(t, s, string(b))
}

// TestReaderBigMessages reads messages around the sizes where the reader
// changes strategy (read buffer, first chunk, several chunks), pipelined
// with small ones, in pieces of various sizes, and checks each message and
// the budget's accounting.
func TestReaderBigMessages(t *testing.T) {
	sizes := []int{10, readBufSize - 1, readBufSize, readBufSize + 1, 2 * readBufSize, firstChunk - 3,
		firstChunk, firstChunk + readBufSize, 3*firstChunk + 17, maxChunk + 5, 2*maxChunk + 3*firstChunk}
	var stream bytes.Buffer
	var want []string
	for i, n := range sizes {
		m := bigMessage(n, i)
		want = append(want, m, `{"x":1}`)
		stream.WriteString(m)
		stream.WriteString(" \n{\"x\":1}")
	}
	for name, chunk := range map[string]int{"whole": 0, "7": 7, "4093": 4093, "100000": 100000} {
		t.Run(name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(stream.Bytes())
			if chunk > 0 {
				r = &chunkReader{data: stream.Bytes(), n: chunk}
			}
			b := newBudget(1 << 30)
			rd := newReader(r, 0, b.newAccount("x", func() {}, nil))
			var charged int64
			for i, w := range want {
				got, n, err := rd.next()
				require.NoError(t, err, "message %d", i)
				require.Equal(t, len(w), len(got), "message %d", i)
				require.True(t, w == string(got), "message %d", i)
				require.Equal(t, int64(len(w)), n)
				charged += n
				require.Equal(t, charged, b.Used(), "message %d: only complete messages are charged", i)
			}
			_, _, err := rd.next()
			require.ErrorIs(t, err, io.EOF)
			rd.acct.release(charged)
			require.Zero(t, b.Used())
		})
	}
}

// bigMessage is a JSON array of exactly n bytes (n >= 10).
func bigMessage(n, seed int) string {
	head := `["` + strings.Repeat("[", seed%3)
	tail := `",` + string(rune('0'+seed%10)) + `]`
	return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
}

// chunkReader returns data n bytes at a time.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// TestReaderMaxSize checks the per-message limit on both paths (read
// buffer and chunks): a message of max bytes is read, one more byte is
// refused, and an unterminated string costs at most the limit.
func TestReaderMaxSize(t *testing.T) {
	for _, max := range []int{100, readBufSize, readBufSize + 1, 3 * firstChunk, 2*maxChunk + 1} {
		m := bigMessage(max, 1)
		b := newBudget(1 << 30)
		got, _, err := newReader(strings.NewReader(m+m), max, b.newAccount("x", func() {}, nil)).next()
		require.NoError(t, err, "max %d", max)
		require.Equal(t, m, string(got))

		b = newBudget(1 << 30)
		_, _, err = newReader(strings.NewReader(bigMessage(max+1, 1)), max, b.newAccount("x", func() {}, nil)).next()
		require.ErrorIs(t, err, errProtocol, "max %d", max)
		require.ErrorContains(t, err, "message exceeds")
		require.Zero(t, b.Used())

		e := &endless{pattern: []byte("x")}
		b = newBudget(1 << 30)
		acct := b.newAccount("x", func() {}, nil)
		var peak int64
		in := io.MultiReader(strings.NewReader(`["`), e)
		_, _, err = newReader(&peakReader{r: in, b: b, peak: &peak}, max, acct).next()
		require.ErrorContains(t, err, "message exceeds")
		require.LessOrEqual(t, peak, int64(max+1), "max %d: charged %d", max, peak)
		require.LessOrEqual(t, e.n, max+readBufSize+maxChunk)
		require.Zero(t, b.Used())
	}
}

// TestReaderNoMaxSize: with no size limit (C's behaviour) big messages are
// still collected in normal chunks.
func TestReaderNoMaxSize(t *testing.T) {
	m := bigMessage(3*firstChunk+5, 2)
	cr := &countingReader{r: strings.NewReader(m)}
	rd := newReader(cr, math.MaxInt, nil)
	got, _, err := rd.next()
	require.NoError(t, err)
	require.Equal(t, m, string(got))
	require.Less(t, cr.reads, 10)
}

type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// peakReader records the budget's peak use while reading.
type peakReader struct {
	r    io.Reader
	b    *budget
	peak *int64
}

func (p *peakReader) Read(buf []byte) (int, error) {
	*p.peak = max(*p.peak, p.b.Used())
	return p.r.Read(buf)
}

// TestBudgetEviction checks the global budget: an incomplete message that
// does not fit makes the session holding the largest incomplete message
// disconnected (itself when it holds the largest), and every charge is
// returned.
func TestBudgetEviction(t *testing.T) {
	b := newBudget(10 * firstChunk)
	var evicted []string
	acct := func(name string) *account {
		return b.newAccount(name, func() { evicted = append(evicted, name) }, nil)
	}
	big, small, third := acct("big"), acct("small"), acct("third")
	require.True(t, big.charge(6*firstChunk, true))
	require.True(t, small.charge(2*firstChunk, true))
	require.True(t, third.charge(firstChunk, false)) // a complete request
	// "small" needs more than is left: "big" goes.
	require.True(t, small.charge(2*firstChunk, true))
	require.Equal(t, []string{"big"}, evicted)
	require.Equal(t, int64(5*firstChunk), b.Used())
	// "big" can no longer charge; what it completes is still accounted.
	require.False(t, big.charge(1, true))
	big.releasePartial(0)
	require.Equal(t, int64(5*firstChunk), b.Used())
	// The largest incomplete message is the asker's own: it is refused.
	require.False(t, small.charge(6*firstChunk, true))
	require.Equal(t, []string{"big"}, evicted)
	// Complete requests are never evicted: a charge that does not fit
	// after all evictions fails.
	require.False(t, third.charge(10*firstChunk, false))
	require.Equal(t, []string{"big", "small"}, evicted)
	small.releasePartial(0)
	third.release(firstChunk)
	require.Zero(t, b.Used())
	// Converting a partial charge into the complete message's charge.
	a := acct("a")
	require.True(t, a.charge(firstChunk, true))
	a.releasePartial(1000)
	require.Equal(t, int64(1000), b.Used())
	a.release(1000)
	require.Zero(t, b.Used())
}

// FuzzReader compares the reader, fed in pieces of fuzzed sizes with fuzzed
// limits, with a byte-by-byte model of the framing (C's rules: objects and
// arrays only, depth 1000, plus our size limit), and checks that the
// budget is charged exactly the complete messages handed out.
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"a":"}]"}[1,[2]] {"b":"x\"{"}`), uint16(0), uint8(0))
	f.Add([]byte(strings.Repeat("[", 1001)), uint16(0), uint8(3))
	f.Add([]byte(`["`+strings.Repeat("y", 40000)+`"]["\\"]`), uint16(5000), uint8(200))
	f.Add([]byte(`["`+strings.Repeat("y", 70000)), uint16(0), uint8(0))
	f.Add([]byte(` x`), uint16(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, max16 uint16, piece uint8) {
		max := int(max16)
		if max == 0 {
			max = 1 << 20
		}
		// Make long inputs out of short ones: repeat a fuzzed message.
		if len(data) > 0 && data[0] == 'R' {
			data = bytes.Repeat(data[1:], min(1+int(piece)*50, (1<<20)/len(data)))
		}
		want, wantErr := modelFrames(data, max)
		b := newBudget(1 << 30)
		var r io.Reader = bytes.NewReader(data)
		if piece > 0 {
			r = &chunkReader{data: data, n: int(piece)}
		}
		rd := newReader(r, max, b.newAccount("x", func() {}, nil))
		var charged int64
		for i := 0; ; i++ {
			got, n, err := rd.next()
			if err != nil {
				require.Equal(t, len(want), i, "messages before the error: %v", err)
				require.Equal(t, wantErr, classify(err), "error %v", err)
				break
			}
			// (Plain comparisons: testify is slow for a million messages.)
			if i >= len(want) || want[i] != string(got) {
				t.Fatalf("message %d: got %.100q", i, got)
			}
			charged += n
			if charged != b.Used() {
				t.Fatalf("message %d: charged %d, budget used %d", i, charged, b.Used())
			}
		}
		rd.acct.release(charged)
		require.Zero(t, b.Used())
	})
}

// modelFrames splits data as the reader must: the messages, then the kind
// of error that ends the stream ("eof", "unexpected-eof", "protocol").
func modelFrames(data []byte, max int) ([]string, string) {
	var out []string
	i := 0
	for {
		for i < len(data) && strings.IndexByte(" \t\r\n", data[i]) >= 0 {
			i++
		}
		if i == len(data) {
			return out, "eof"
		}
		if data[i] != '{' && data[i] != '[' {
			return out, "protocol"
		}
		start, depth, inStr, esc := i, 0, false, false
		for ; ; i++ {
			if i == len(data) {
				return out, "unexpected-eof"
			}
			if i-start+1 > max {
				return out, "protocol"
			}
			c := data[i]
			switch {
			case inStr && esc:
				esc = false
			case inStr && c == '\\':
				esc = true
			case inStr && c == '"':
				inStr = false
			case inStr:
			case c == '"':
				inStr = true
			case c == '[' || c == '{':
				depth++
				if depth > fastjson.MaxDepth {
					return out, "protocol"
				}
			case c == ']' || c == '}':
				depth--
			}
			if depth == 0 {
				i++
				out = append(out, string(data[start:i]))
				break
			}
		}
	}
}

func classify(err error) string {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected-eof"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, errProtocol):
		return "protocol"
	}
	return err.Error()
}

// TestNormalizeNumbers checks ids are re-serialised as C does, canonical
// integers being kept as they are.
func TestNormalizeNumbers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"17", "17"},
		{"-5", "-5"},
		{"0", "0"},
		{"-0", "0"},
		{"1.0", "1"},
		{"1e2", "100"},
		{"0.5", "0.5"},
		{"-9223372036854775808", "-9223372036854775808"},
	} {
		got := normalize(json.Number(tc.in))
		require.Equal(t, json.Number(tc.want), got, tc.in)
	}
	require.Equal(t, []any{json.Number("1"), map[string]any{"a": json.Number("2")}},
		normalize([]any{json.Number("1.0"), map[string]any{"a": json.Number("2e0")}}))
}
