package cluster

// Online conversion of a clustered database.

import (
	"fmt"

	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// Convert implements server.Mode: online conversion of a clustered
// database is not supported yet (C replicates the conversion through the
// log).
func (c *Member) Convert(*schema.DatabaseSchema) (server.Mode, error) {
	return nil, fmt.Errorf("%s: online conversion of a clustered database: %w", c.Meta().Name, server.ErrUnsupported)
}
