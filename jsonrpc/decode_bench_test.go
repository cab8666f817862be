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
