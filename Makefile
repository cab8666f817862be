# Two entry points for a fresh machine:
#   make run    start ovsdb-server (ours) with OVN_Northbound and OVN_Southbound
#   make test   install the reference C tools if missing, then vet and run every test
SHELL := /bin/bash
GO ?= go
RUNDIR ?= $(CURDIR)/run
# TCP ports of `make run` (on 127.0.0.1): make run NB_PORT=16641 SB_PORT=16642
NB_PORT ?= 6641
SB_PORT ?= 6642
# `make run`: the client tools the README uses (ovs-appctl, ovsdb-client,
# ovn-nbctl); neither package has a daemon. The OVN schemas come from the
# ovn-central package, which is only downloaded and unpacked, not installed.
RUN_PACKAGES := openvswitch-common ovn-common
# `make test` (`make deps`): every reference tool of the differential tests;
# resource-agents for the OCF shell functions that OVN's Pacemaker agent
# sources, iproute2 for the network namespaces of its test
# (conformance/e2e_ocf_test.go), ovn-host for the ovn-controller that
# registers a chassis through RBAC (conformance/e2e_rbac_tls_test.go),
# python3-openssl for the Python IDL's ssl: streams (conformance/e2e_tls_test.go).
DEB_PACKAGES := openvswitch-common openvswitch-switch ovn-central ovn-common ovn-host ovn-ic-db python3-openvswitch python3-openssl resource-agents iproute2
TEST_TIMEOUT ?= 25m
# The OVN schemas: the installed ones, else unpacked into $(RUNDIR)/schemas.
OVN_SCHEMADIR := $(if $(and $(wildcard /usr/share/ovn/ovn-nb.ovsschema),$(wildcard /usr/share/ovn/ovn-sb.ovsschema)),/usr/share/ovn,$(RUNDIR)/schemas)
# Record the commit in the binaries (second line of --version) when this is
# a git work tree, even where GOFLAGS has -buildvcs=false.
BUILDVCS := $(shell git -C $(CURDIR) rev-parse --is-inside-work-tree >/dev/null 2>&1 && echo -buildvcs=true)

# Installs Debian packages $(1) (needs root or sudo, and the package registry).
define apt_install
	echo "installing Debian packages: $(1)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	$$SUDO apt-get update -qq && \
	$$SUDO apt-get install -y -qq --no-install-recommends $(1) >/dev/null
endef

.PHONY: all build deps run-deps run test vet fuzz difffuzz bench sidebyside clean

all: build

build:
	$(GO) build $(BUILDVCS) -o bin/ovsdb-server ./cmd/ovsdb-server
	$(GO) build $(BUILDVCS) -o bin/ovsdb-tool ./cmd/ovsdb-tool

# Reference tools (the oracle for differential tests) and the OVN schemas.
deps:
	@if ! command -v ovsdb-server >/dev/null && [ ! -x /usr/sbin/ovsdb-server ] || \
	    ! command -v ovn-nbctl >/dev/null || ! command -v ovn-controller >/dev/null || [ ! -f /usr/share/ovn/ovn-nb.ovsschema ] || [ ! -f /usr/share/ovn/ovn-ic-nb.ovsschema ] || \
	    ! /usr/bin/python3 -c 'import ovs.db.idl, OpenSSL' 2>/dev/null || \
	    [ ! -f /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ] || ! command -v ip >/dev/null; then \
		$(call apt_install,$(DEB_PACKAGES)); \
	fi

# What `make run` needs: the client tools and the two OVN schemas.
run-deps:
	@if ! command -v ovs-appctl >/dev/null || ! command -v ovn-nbctl >/dev/null; then \
		$(call apt_install,$(RUN_PACKAGES)); \
	fi
	@if [ ! -f $(OVN_SCHEMADIR)/ovn-nb.ovsschema ] || [ ! -f $(OVN_SCHEMADIR)/ovn-sb.ovsschema ]; then \
		echo "unpacking the OVN schemas from Debian's ovn-central package into $(OVN_SCHEMADIR) (not installing it)"; \
		tmp=$$(mktemp -d) && chmod 777 $$tmp && \
		{ (cd $$tmp && apt-get -qq download ovn-central) || \
		  { SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; $$SUDO apt-get update -qq && (cd $$tmp && apt-get -qq download ovn-central); }; } && \
		dpkg-deb --fsys-tarfile $$tmp/ovn-central_*.deb | tar -x -C $$tmp ./usr/share/ovn/ovn-nb.ovsschema ./usr/share/ovn/ovn-sb.ovsschema && \
		mkdir -p $(OVN_SCHEMADIR) && cp $$tmp/usr/share/ovn/ovn-nb.ovsschema $$tmp/usr/share/ovn/ovn-sb.ovsschema $(OVN_SCHEMADIR)/; \
		st=$$?; rm -rf $$tmp; exit $$st; \
	fi

# Runs our server in the foreground on the OVN schemas: unix sockets in
# $(RUNDIR), TCP on 127.0.0.1:$(NB_PORT) and 127.0.0.1:$(SB_PORT). Stop it
# with Ctrl-C or `ovs-appctl -t $(RUNDIR)/ovsdb-server.ctl exit`.
run: run-deps build
	@mkdir -p $(RUNDIR)
	@[ -f $(RUNDIR)/ovnnb_db.db ] || ./bin/ovsdb-tool create $(RUNDIR)/ovnnb_db.db $(OVN_SCHEMADIR)/ovn-nb.ovsschema
	@[ -f $(RUNDIR)/ovnsb_db.db ] || ./bin/ovsdb-tool create $(RUNDIR)/ovnsb_db.db $(OVN_SCHEMADIR)/ovn-sb.ovsschema
	@echo "serving OVN_Northbound and OVN_Southbound: unix:$(RUNDIR)/ovnnb_db.sock, unix:$(RUNDIR)/ovnsb_db.sock, tcp:127.0.0.1:$(NB_PORT), tcp:127.0.0.1:$(SB_PORT)"
	@echo "stop with Ctrl-C or: ovs-appctl -t $(RUNDIR)/ovsdb-server.ctl exit"
	exec ./bin/ovsdb-server --no-chdir \
		--remote=punix:$(RUNDIR)/ovnnb_db.sock --remote=punix:$(RUNDIR)/ovnsb_db.sock \
		--remote=ptcp:$(NB_PORT):127.0.0.1 --remote=ptcp:$(SB_PORT):127.0.0.1 \
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
