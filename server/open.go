package server

import "github.com/ovsdb-go/ovsdb-server/internal/standalone"

// defaultOpener opens a standalone database file, or one of our clustered
// (bbolt) database files with OpenCluster.
func defaultOpener(path string) (Storage, error) {
	if IsClusteredFile(path) {
		c, err := OpenCluster(path)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	d, err := standalone.Open(path)
	if err != nil {
		return nil, err
	}
	return d, nil
}
