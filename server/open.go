package server

import "errors"

// defaultOpener opens a standalone database file.
func defaultOpener(path string) (Storage, error) {
	return nil, errors.New("standalone storage not available yet: " + path)
}
