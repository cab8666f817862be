package jsonrpc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegisterRefusesBuiltins(t *testing.T) {
	srv := NewServer(&fakeBackend{}, Options{})
	defer srv.Close()
	for _, name := range []string{"list_dbs", "get_schema", "transact", "get_server_id", "echo"} {
		require.Panics(t, func() { srv.Register(name, Method{}) }, name)
	}
	require.Panics(t, func() { srv.RegisterNotify("cancel", func(*Session, []any) {}) })
	require.NotPanics(t, func() { srv.Register("monitor", Method{}) })
	require.NotPanics(t, func() { srv.RegisterNotify("other", func(*Session, []any) {}) })
}

// TestAfterTransact: the hook runs after the transaction, with its session
// and database, before the reply is written.
func TestAfterTransact(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.SetAfterTransact(func(ss *Session, db Database) {
		require.Equal(t, "OVN_Northbound", db.Name())
		_ = ss.Notify("after", []any{len(f.db.log)})
	})
	c := f.raw(t)
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":"a"}],"id":1}`)
	require.Equal(t, `{"id":null,"method":"after","params":[1]}`, c.next())
	require.Equal(t, `{"id":1,"result":[{}],"error":null}`, c.next())
	// Not for other methods, nor for a transact naming no database.
	require.Equal(t, `{"id":2,"result":[],"error":null}`, c.roundTrip(`{"method":"echo","params":[],"id":2}`))
	require.Contains(t, c.roundTrip(`{"method":"transact","params":["nope"],"id":3}`), `"unknown database"`)
	f.srv.SetAfterTransact(nil)
	require.Equal(t, `{"id":4,"result":[{}],"error":null}`,
		c.roundTrip(`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":"b"}],"id":4}`))
}
