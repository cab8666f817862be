#!/usr/bin/python3
"""Drives the Open vSwitch Python IDL (python3-openvswitch) against an
OVN_Northbound database and prints a deterministic summary.

usage: idl_client.py REMOTE SCHEMA OVN-NBCTL

The IDL connects and waits for its initial contents, commits a transaction
of its own (inserts a Logical_Switch), checks that its replica holds the new
row, then lets another client (ovn-nbctl) add, modify and delete rows and
waits until the replica shows each change. Every step prints one line; a
step that does not complete within the deadline prints "TIMEOUT" and the
script exits with status 1.
"""

import os
import subprocess
import sys
import time

import ovs.db.idl
import ovs.poller

DEADLINE = 20.0


def switches(idl):
    out = []
    for row in idl.tables["Logical_Switch"].rows.values():
        ids = "".join(" %s=%s" % kv for kv in sorted(row.external_ids.items()))
        out.append(row.name + ids)
    return sorted(out)


def wait_for(idl, pred, what):
    end = time.monotonic() + DEADLINE
    while True:
        idl.run()
        if pred():
            return
        if time.monotonic() > end:
            print("%s: TIMEOUT (replica: %s)" % (what, switches(idl)))
            sys.exit(1)
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()


def main():
    remote, schema, nbctl = sys.argv[1:4]
    helper = ovs.db.idl.SchemaHelper(location=schema)
    helper.register_columns("Logical_Switch", ["name", "external_ids", "ports"])
    helper.register_table("NB_Global")
    # Default leader-only mode: the IDL also monitors _Server.Database.
    idl = ovs.db.idl.Idl(remote, helper)

    seq = idl.change_seqno
    wait_for(idl, lambda: idl.has_ever_connected() and idl.change_seqno != seq,
             "initial")
    print("initial: %s" % switches(idl))
    print("nb_global rows: %d" % len(idl.tables["NB_Global"].rows))

    txn = ovs.db.idl.Transaction(idl)
    row = txn.insert(idl.tables["Logical_Switch"])
    row.name = "py-ls"
    row.external_ids = {"owner": "python"}
    status = txn.commit_block()
    print("own insert: %s" % ovs.db.idl.Transaction.status_to_string(status))
    print("own insert uuid known: %s" % (txn.get_insert_uuid(row.uuid) is not None))
    # The server sends the update before the reply, so the replica already
    # holds the row once the commit completed.
    print("after own insert: %s" % switches(idl))

    env = dict(os.environ)
    env.pop("OVN_NB_DAEMON", None)

    def run_nbctl(*args):
        subprocess.run([nbctl, "--db=" + remote, "--timeout=20"] + list(args),
                       check=True, env=env, stdout=subprocess.DEVNULL)

    run_nbctl("ls-add", "from-nbctl")
    wait_for(idl, lambda: "from-nbctl" in switches(idl), "foreign insert")
    print("after foreign insert: %s" % switches(idl))

    run_nbctl("set", "Logical_Switch", "py-ls", "external_ids:by=nbctl")
    wait_for(idl, lambda: "py-ls by=nbctl owner=python" in switches(idl),
             "foreign modify")
    print("after foreign modify: %s" % switches(idl))

    run_nbctl("ls-del", "pre0")
    wait_for(idl, lambda: "pre0" not in switches(idl), "foreign delete")
    print("after foreign delete: %s" % switches(idl))

    # A second own transaction: modify a row the other client changed.
    txn = ovs.db.idl.Transaction(idl)
    for r in idl.tables["Logical_Switch"].rows.values():
        if r.name == "from-nbctl":
            r.verify("external_ids")
            r.external_ids = {"seen-by": "python"}
    status = txn.commit_block()
    print("own modify: %s" % ovs.db.idl.Transaction.status_to_string(status))
    print("final: %s" % switches(idl))
    idl.close()


if __name__ == "__main__":
    main()
