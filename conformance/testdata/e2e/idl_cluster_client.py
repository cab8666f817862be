#!/usr/bin/python3
"""Drives the Open vSwitch Python IDL (python3-openvswitch) against a
clustered OVN_Northbound database, one command per line on stdin, so that a
test can kill cluster members between commands.

usage: idl_cluster_client.py REMOTES SCHEMA

REMOTES is comma separated ("unix:a,unix:b,unix:c"); the IDL runs in its
default leader-only mode, so it monitors _Server.Database and moves on from
members that are not the connected leader.

Commands (each answered by exactly one line on stdout):
  wait NAME    run the IDL until a Logical_Switch named NAME is in the
               replica: "seen NAME" (or "wait NAME: TIMEOUT ...")
  insert NAME  commit an insert of Logical_Switch NAME: "insert NAME: STATUS"
  remote       the remote the IDL is connected to: "remote REMOTE"
  quit         close the IDL and exit: "bye"
The script starts by waiting for its initial contents and prints
"ready N" (N = number of Logical_Switch rows). A step that does not complete
within the deadline exits with status 1.
"""

import sys
import time

import ovs.db.idl
import ovs.poller

DEADLINE = 20.0


def names(idl):
    return sorted(r.name for r in idl.tables["Logical_Switch"].rows.values())


def run_until(idl, pred, what):
    end = time.monotonic() + DEADLINE
    while True:
        idl.run()
        if pred():
            return
        if time.monotonic() > end:
            print("%s: TIMEOUT (replica: %s)" % (what, names(idl)), flush=True)
            sys.exit(1)
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()


def monitoring(idl):
    return (idl._session.is_connected() and
            idl.state == idl.IDL_S_MONITORING)


def main():
    remotes, schema = sys.argv[1:3]
    helper = ovs.db.idl.SchemaHelper(location=schema)
    helper.register_columns("Logical_Switch", ["name", "external_ids"])
    helper.register_table("NB_Global")
    idl = ovs.db.idl.Idl(remotes, helper)

    seq = idl.change_seqno
    run_until(idl, lambda: idl.has_ever_connected() and idl.change_seqno != seq,
              "initial")
    print("ready %d" % len(names(idl)), flush=True)

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        if cmd == "wait":
            name = args[0]
            run_until(idl, lambda: name in names(idl), "wait " + name)
            print("seen " + name, flush=True)
        elif cmd == "insert":
            # The replica must be connected and current before a commit.
            run_until(idl, lambda: monitoring(idl), "connect for insert")
            txn = ovs.db.idl.Transaction(idl)
            row = txn.insert(idl.tables["Logical_Switch"])
            row.name = args[0]
            row.external_ids = {"owner": "python"}
            status = txn.commit_block()
            print("insert %s: %s" % (
                args[0], ovs.db.idl.Transaction.status_to_string(status)),
                flush=True)
        elif cmd == "remote":
            run_until(idl, lambda: monitoring(idl), "connect")
            print("remote " + idl._session.get_name(), flush=True)
        elif cmd == "quit":
            idl.close()
            print("bye", flush=True)
            return
        else:
            print("unknown command " + cmd, flush=True)
            sys.exit(2)


if __name__ == "__main__":
    main()
