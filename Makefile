# csi-provider-aws: common tasks. Every target works on a fresh clone with Go
# 1.26; `make e2e` also builds the upstream control plane (see README).
GO       ?= go
BIN      ?= bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)

.PHONY: all build test unit lint validate-examples cross deploy demo e2e e2e-kind bench fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/csi-provider-aws .

# The README's test command: formatting, vet, the examples through
# `validate`, then every unit, integration (moto and the in-process fake)
# and conformance test under the race detector.
test: lint validate-examples
	$(GO) test -race -count=1 -timeout 20m ./...

# The examples users copy, checked as users check theirs: with the daemon's
# own parser, through the binary's validate subcommand.
validate-examples:
	$(GO) run . validate -f examples/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Windows nodes run the daemon too (the chart's windows.enabled): the whole
# module, tests included, must build and vet for windows/amd64. Code that
# differs goes in build-tagged files (server/socket_unix.go, _windows.go).
cross:
	GOOS=windows GOARCH=amd64 $(GO) build ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...

# deploy/csi-provider-aws.yaml: the chart rendered with its defaults, for
# installs without Helm (deploy/README.md). A chart test fails when it is
# out of date.
deploy:
	bash deploy/render.sh

# Runs the daemon on an embedded AWS stand-in, mounts and rotates a secret
# through the driver's own client code, and prints the files.
demo:
	$(GO) run ./examples/demo

# End to end on a real control plane (etcd, kube-apiserver, the real driver).
e2e:
	bash e2e/run.sh

# The same scenarios on a kind cluster, with the image built from the
# Dockerfile and both charts installed by Helm. Needs docker with a running
# engine, kind, kubectl and the internet (e2e/kind/README.md); neither test
# nor e2e runs it, and CI cannot.
e2e-kind:
	bash e2e/kind/run.sh

bench:
	$(GO) run ./tools/bench

# Each fuzz target asserts a per-input allocation bound besides its oracle.
fuzz:
	$(GO) test ./class/ -run '^$$' -fuzz '^FuzzParseClass$$' -fuzztime 30s
	$(GO) test ./provider/ -run '^$$' -fuzz '^FuzzBuildFiles$$' -fuzztime 30s
	$(GO) test ./provider/ -run '^$$' -fuzz '^FuzzJSONFiles$$' -fuzztime 30s
	$(GO) test ./provider/ -run '^$$' -fuzz '^FuzzListingMembers$$' -fuzztime 30s
	$(GO) test ./jmes/ -run '^$$' -fuzz '^FuzzJMESPath$$' -fuzztime 30s
	$(GO) test ./request/ -run '^$$' -fuzz '^FuzzAttributes$$' -fuzztime 30s

clean:
	rm -rf $(BIN)
