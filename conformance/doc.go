// Package conformance is the differential conformance suite: it runs the C
// ovsdb-server (the reference, version 3.1) and this project's ovsdb-server
// side by side on copies of the same database, sends both the same JSON-RPC
// requests over their unix sockets and compares the replies after
// normalisation (server-generated UUIDs become stable symbols, select rows
// and UUID sets are compared unordered).
//
// The suite lives in the package's tests:
//   - testdata/test.ovsschema is a schema of our own that uses every atomic
//     type and every constraint;
//   - testdata/cases/*.json are hand-written request sequences, one file per
//     area (operations, conditions, mutators, references, errors...);
//   - a seeded random transaction generator (CONFORMANCE_SEED) adds a few
//     hundred generated requests;
//   - ovsdb-client's list-dbs, get-schema, list-tables, transact, query and
//     dump are run against both servers and their output compared.
//
// Environment knobs: CONFORMANCE_SEED (random generator seed),
// CONFORMANCE_RANDOM_N (number of generated requests), CONFORMANCE_IMPL=c
// (compare the C server against itself, which checks the harness and the
// normaliser), CONFORMANCE_SERVER=/path (use a prebuilt server binary
// instead of building ./cmd/ovsdb-server).
package conformance
