package server

import "github.com/ovsdb-go/ovsdb-server/internal/standalone"

// defaultOpener opens a standalone database file.
func defaultOpener(path string) (Storage, error) {
	d, err := standalone.Open(path)
	if err != nil {
		return nil, err
	}
	return d, nil
}
