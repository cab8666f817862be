package cluster

// Online conversion of a clustered database: the conversion travels
// through the Raft log (raft.Node.Convert) and every member applies it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// Convert implements server.Mode: it converts the database to schema ns
// on every member of the cluster, as C does for a clustered database. The
// conversion is first tried on this member's state (a schema the data
// does not fit fails with C's error, nothing proposed); then a conversion
// entry goes through the Raft log (from a follower, to the leader, as C's
// followers forward the command), and every member, this one included,
// converts its own state when it applies the entry. Convert returns once
// this member has applied it, and returns the member itself, now serving
// the converted database (server.Mode allows it). The other members'
// servers see their Database change (Info's channel closes) and serve the
// converted database as after a local conversion.
//
// A member that has left its cluster refuses, with the cluster error of
// its refused writes.
func (c *Member) Convert(ns *schema.DatabaseSchema) (server.Mode, error) {
	if c.Left() {
		return nil, ovsdberr.New("cluster error", "server shutdown")
	}
	if c.arbiter {
		return nil, c.refusal()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.cancelOnStop(ctx, cancel)
	if err := c.node.Convert(ctx, ns); err != nil {
		var oe *ovsdberr.Error
		if errors.As(err, &oe) {
			return nil, oe
		}
		if ctx.Err() != nil {
			return nil, ovsdberr.New(ovsdberr.TagOVSDB, "%s: conversion abandoned: server shutting down", c.Meta().Name)
		}
		return nil, ovsdberr.New(ovsdberr.TagOVSDB, "%s", err.Error())
	}
	return c, nil
}

// schemaChanged records a new schema of the member's database (a
// conversion applied, or a snapshot taken after one restored) in the
// file's metadata, where ovsdb-tool and a restart read it. raft calls it
// on the apply path (raft.Config.SchemaChanged).
func (c *Member) schemaChanged(s *schema.DatabaseSchema) {
	text := cjson.Marshal(s.CJSON())
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Equal(text, c.meta.Schema) {
		return
	}
	m := c.meta
	m.Schema = text
	if err := c.store.SetMeta(m); err != nil {
		clusterLog().Error(fmt.Sprintf("%s: cannot record the converted schema", m.Name), "err", err)
		return
	}
	c.meta = m
}
