# Two entry points for a fresh machine:
#   make run    start ovsdb-server (ours) with OVN_Northbound and OVN_Southbound
#   make test   install the reference C tools if missing, then vet and run every test
SHELL := /bin/bash
GO ?= go
RUNDIR ?= $(CURDIR)/run
DEB_PACKAGES := openvswitch-common openvswitch-switch ovn-central ovn-common ovn-ic-db python3-openvswitch
TEST_TIMEOUT ?= 25m

.PHONY: all build deps run test vet fuzz difffuzz bench sidebyside clean

all: build

build:
	$(GO) build -o bin/ovsdb-server ./cmd/ovsdb-server

# Reference tools (the oracle for differential tests) and the OVN schemas.
deps:
	@if ! command -v ovsdb-server >/dev/null && [ ! -x /usr/sbin/ovsdb-server ] || \
	    ! command -v ovn-nbctl >/dev/null || [ ! -f /usr/share/ovn/ovn-nb.ovsschema ] || [ ! -f /usr/share/ovn/ovn-ic-nb.ovsschema ] || \
	    ! /usr/bin/python3 -c 'import ovs.db.idl' 2>/dev/null; then \
		echo "installing reference tools: $(DEB_PACKAGES)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		$$SUDO apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) >/dev/null; \
	fi

# Runs our server in the foreground on the OVN schemas: unix sockets in
# $(RUNDIR), TCP on 127.0.0.1:6641 and 127.0.0.1:6642.
run: deps build
	@mkdir -p $(RUNDIR)
	@[ -f $(RUNDIR)/ovnnb_db.db ] || ovsdb-tool create $(RUNDIR)/ovnnb_db.db /usr/share/ovn/ovn-nb.ovsschema
	@[ -f $(RUNDIR)/ovnsb_db.db ] || ovsdb-tool create $(RUNDIR)/ovnsb_db.db /usr/share/ovn/ovn-sb.ovsschema
	@echo "serving OVN_Northbound and OVN_Southbound: unix:$(RUNDIR)/ovnnb_db.sock, unix:$(RUNDIR)/ovnsb_db.sock, tcp:127.0.0.1:6641, tcp:127.0.0.1:6642"
	./bin/ovsdb-server --no-chdir \
		--remote=punix:$(RUNDIR)/ovnnb_db.sock --remote=punix:$(RUNDIR)/ovnsb_db.sock \
		--remote=ptcp:6641:127.0.0.1 --remote=ptcp:6642:127.0.0.1 \
		--unixctl=$(RUNDIR)/ovsdb-server.ctl --pidfile=$(RUNDIR)/ovsdb-server.pid \
		--log-file=$(RUNDIR)/ovsdb-server.log \
		$(RUNDIR)/ovnnb_db.db $(RUNDIR)/ovnsb_db.db

vet:
	$(GO) vet ./...

test: deps vet
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

# Short fuzzing of every parser of untrusted input (FUZZTIME per target).
FUZZTIME ?= 30s
fuzz:
	@set -e; for t in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed 's/func //' | sort -u); do \
		pkg=$$(dirname $$(grep -rlE "^func $$t\(" --include='*_test.go' . | head -1)); \
		echo "== $$t in $$pkg"; $(GO) test -run XXX -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Differential random testing against the C server with any seed and size:
# make difffuzz SEED=123 N=5000 (SEED may be a comma-separated list). At the
# first difference it shrinks the request sequence and prints it as a case
# file; DIFFFUZZ_ALL=1 logs every difference instead; SERVER=/path tests a
# prebuilt binary.
SEED ?= 1
N ?= 2000
difffuzz: deps
	set -o pipefail; cd conformance && CONFORMANCE_SEED=$(SEED) CONFORMANCE_RANDOM_N=$(N) \
		$(if $(DIFFFUZZ_ALL),CONFORMANCE_RANDOM_ALL=1) $(if $(SERVER),CONFORMANCE_SERVER=$(SERVER)) \
		$(GO) test -count=1 -timeout 120m -run 'TestRandom$$' -v . | grep -v '^=== RUN'

bench:
	$(GO) test -run XXX -bench . -benchmem ./benchmarks/

sidebyside: deps
	$(GO) run ./benchmarks/cmd/loadgen -duration 5s

clean:
	rm -rf bin $(RUNDIR)
