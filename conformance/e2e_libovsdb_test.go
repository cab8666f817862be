package conformance

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/stretchr/testify/require"
)

// e2eLogicalSwitch is a minimal libovsdb model of OVN_Northbound's
// Logical_Switch: only the columns the test uses.
type e2eLogicalSwitch struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Ports       []string          `ovsdb:"ports"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

// libovsdbSwitches returns the switches in the client's cache as sorted
// "name key=value..." strings.
func libovsdbSwitches(ctx context.Context, c client.Client) ([]string, error) {
	var rows []e2eLogicalSwitch
	if err := c.List(ctx, &rows); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		s := r.Name
		keys := make([]string, 0, len(r.ExternalIDs))
		for k := range r.ExternalIDs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s += " " + k + "=" + r.ExternalIDs[k]
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// waitSwitches polls the libovsdb cache until it holds exactly want or the
// bounded wait expires, and returns the last contents seen.
func waitSwitches(t *testing.T, c client.Client, want []string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	var got []string
	for {
		var err error
		got, err = libovsdbSwitches(ctx, c)
		require.NoError(t, err)
		if equalStrings(got, want) {
			return got
		}
		select {
		case <-ctx.Done():
			return got
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestE2ELibovsdb connects the libovsdb client (as used by ovn-kubernetes)
// to an OVN_Northbound database, monitors everything, creates a row and
// sees it in its cache, then sees rows added, changed and deleted by
// another client (ovn-nbctl). It runs against the C server and ours.
func TestE2ELibovsdb(t *testing.T) {
	t.Parallel()
	for _, impl := range e2eImplementations(t) {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			nb := startOVNDB(t, impl, "nb")
			nbctl := newNbctl(t, nb)
			nbctl.run(t, "init")
			nbctl.run(t, "ls-add", "pre0")

			dbModel, err := model.NewClientDBModel("OVN_Northbound",
				map[string]model.Model{"Logical_Switch": &e2eLogicalSwitch{}})
			require.NoError(t, err)
			c, err := client.NewOVSDBClient(dbModel, client.WithEndpoint("unix:"+nb.sock),
				// leader-only: the client first reads _Server.Database.
				client.WithLeaderOnly(true))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
			defer cancel()
			require.NoError(t, c.Connect(ctx), "libovsdb connect")
			t.Cleanup(c.Close)
			_, err = c.MonitorAll(ctx)
			require.NoError(t, err, "libovsdb MonitorAll")
			require.Equal(t, []string{"pre0"}, waitSwitches(t, c, []string{"pre0"}), "initial contents")

			// Own transaction: the cache holds the row once Transact returns
			// (the server flushes the update before the reply).
			ops, err := c.Create(&e2eLogicalSwitch{Name: "lib-ls", ExternalIDs: map[string]string{"owner": "libovsdb"}})
			require.NoError(t, err)
			res, err := c.Transact(ctx, ops...)
			require.NoError(t, err)
			_, err = ovsdb.CheckOperationResults(res, ops)
			require.NoError(t, err)
			got, err := libovsdbSwitches(ctx, c)
			require.NoError(t, err)
			require.Equal(t, []string{"lib-ls owner=libovsdb", "pre0"}, got, "own insert visible after Transact")

			// Changes by another client.
			nbctl.run(t, "ls-add", "from-nbctl")
			nbctl.run(t, "set", "Logical_Switch", "lib-ls", "external_ids:by=nbctl")
			nbctl.run(t, "ls-del", "pre0")
			want := []string{"from-nbctl", "lib-ls by=nbctl owner=libovsdb"}
			require.Equal(t, want, waitSwitches(t, c, want), "changes of another client")

			// And nbctl sees libovsdb's row.
			require.Equal(t, []string{"from-nbctl", "lib-ls"},
				sortedLines(nbctl.run(t, "--bare", "--columns=name", "find", "Logical_Switch")),
				"ovn-nbctl sees both switches")
		})
	}
}
