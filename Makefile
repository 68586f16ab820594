# csi-provider-aws: common tasks. Every target works on a fresh clone with Go
# 1.26; `make e2e` also builds the upstream control plane (see README).
GO       ?= go
BIN      ?= bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)

.PHONY: all build test unit lint demo e2e bench fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/csi-provider-aws .

# The README's test command: formatting, vet, then every unit, integration
# (moto and the in-process fake) and conformance test under the race detector.
test: lint
	$(GO) test -race -count=1 -timeout 20m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Runs the daemon on an embedded AWS stand-in, mounts and rotates a secret
# through the driver's own client code, and prints the files.
demo:
	$(GO) run ./examples/demo

# End to end on a real control plane (etcd, kube-apiserver, the real driver).
e2e:
	bash e2e/run.sh

bench:
	$(GO) run ./tools/bench

# Each fuzz target asserts a per-input allocation bound besides its oracle.
fuzz:
	$(GO) test ./class/ -run '^$$' -fuzz '^FuzzParseClass$$' -fuzztime 30s
	$(GO) test ./provider/ -run '^$$' -fuzz '^FuzzBuildFiles$$' -fuzztime 30s
	$(GO) test ./provider/ -run '^$$' -fuzz '^FuzzJSONFiles$$' -fuzztime 30s
	$(GO) test ./jmes/ -run '^$$' -fuzz '^FuzzJMESPath$$' -fuzztime 30s
	$(GO) test ./request/ -run '^$$' -fuzz '^FuzzAttributes$$' -fuzztime 30s

clean:
	rm -rf $(BIN)
