package server

import (
	"bytes"
	"os"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func readFile(p string) ([]byte, error)  { return os.ReadFile(p) }
func writeFile(p string, b []byte) error { return os.WriteFile(p, b, 0o644) }
