package server

// The "db:DB,TABLE,COLUMN" remotes: remotes read from a database column.

// dbRemoteState is the state of the db: remotes; its zero value is ready.
type dbRemoteState struct{}
