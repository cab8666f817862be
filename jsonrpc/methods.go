package jsonrpc

import (
	"context"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

func (s *Server) registerBuiltins() {
	s.methods["list_dbs"] = Method{Handler: s.listDBs}
	s.methods["get_schema"] = Method{Handler: s.getSchema}
	s.methods["transact"] = Method{Handler: s.transact, Cancelable: true}
	s.methods["get_server_id"] = Method{Handler: s.getServerID}
	// C answers echo in its session layer, ahead of pending requests.
	// echo is answered in order, as C's session layer does when it reads
	// it: after every earlier request has been answered or has blocked in
	// a "wait" (a blocked transaction no longer holds the queue).
	s.methods["echo"] = Method{Handler: echo}
	s.notifies["cancel"] = func(ss *Session, params []any) {
		if len(params) == 1 {
			ss.cancelRequest(normalize(params[0]))
		}
	}
	for name := range s.methods {
		s.builtins[name] = true
	}
	s.builtins["notify cancel"] = true
}

// unavailable is implemented by a Database that may refuse every request
// (a Raft arbiter holds no data): Unavailable returns that error, or nil.
type unavailable interface{ Unavailable() error }

// LookupDB returns the database named by params[0], or the error C sends
// for a request that does not begin with a known database name.
func (s *Server) LookupDB(method string, params []any) (Database, error) {
	name, ok := "", len(params) > 0
	if ok {
		name, ok = params[0].(string)
	}
	if !ok {
		return nil, ovsdberr.Syntax(normalize(params), "%s request params must begin with <db-name>", method)
	}
	db := s.backend.Database(name)
	if db == nil {
		return nil, ovsdberr.WithSyntax(ovsdberr.TagUnknownDatabase, normalize(params),
			"%s request specifies unknown database %s", method, name)
	}
	if u, ok := db.(unavailable); ok {
		if err := u.Unavailable(); err != nil {
			return nil, err
		}
	}
	return db, nil
}

func (s *Server) listDBs(context.Context, *Session, []any) (any, error) {
	dbs := s.backend.ListDBs()
	if dbs == nil {
		dbs = []string{}
	}
	return dbs, nil
}

func (s *Server) getSchema(_ context.Context, _ *Session, params []any) (any, error) {
	db, err := s.LookupDB("get_schema", params)
	if err != nil {
		return nil, err
	}
	return db.SchemaJSON(), nil
}

func (s *Server) transact(ctx context.Context, ss *Session, params []any) (any, error) {
	db, err := s.LookupDB("transact", params)
	if err != nil {
		return nil, err
	}
	res := db.Transact(ctx, params[1:], ss.TransactOptions())
	if fn := s.afterTransact.Load(); fn != nil {
		(*fn)(ss, db)
	}
	return res, nil
}

func (s *Server) getServerID(context.Context, *Session, []any) (any, error) {
	return s.backend.ServerID(), nil
}

func echo(_ context.Context, _ *Session, params []any) (any, error) {
	return normalize(params), nil
}
