package jsonrpc

import (
	"fmt"
	"strings"
	"testing"
)

// insertRequest is a transact request like loadgen's insertN workload.
func insertRequest(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"id":17,"method":"transact","params":["OVN_Northbound"`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `,{"op":"insert","row":{"name":"lg-3-%d"},"table":"Logical_Switch"}`, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkDecodeInsert100(b *testing.B) {
	msg := insertRequest(100)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := decodeValue(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := parseMessage(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeInsert100NonASCII is insert100 with a non-ASCII
// character and an escape in every name (the decoder's slow string path).
func BenchmarkDecodeInsert100NonASCII(b *testing.B) {
	msg := []byte(strings.ReplaceAll(string(insertRequest(100)), `"lg-3-`, `"lg-é\\t-`))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := decodeValue(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := parseMessage(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderStream frames a pipelined stream of transacts (insertN,
// N=100: within the read buffer; N=400: about 30 KB, collected in a chunk)
// and echoes, read 64 KiB at a time.
func BenchmarkReaderStream(b *testing.B) {
	for _, n := range []int{100, 400} {
		b.Run(fmt.Sprint("insert", n), func(b *testing.B) {
			var data []byte
			for i := 0; i < 50; i++ {
				data = append(data, insertRequest(n)...)
				data = append(data, `{"method":"echo","params":[],"id":1}`...)
				data = append(data, insertRequest(1)...)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			acct := newBudget(1<<30).newAccount("x", func() {}, nil)
			for b.Loop() {
				rd := newReader(&chunkReader{data: data, n: 64 << 10}, 0, acct)
				for {
					_, size, err := rd.next()
					if err != nil {
						break
					}
					acct.release(size)
				}
			}
		})
	}
}
