# goldimage build and test entry points. `make help` lists them.
SHELL := /usr/bin/env bash
GO ?= go
BIN_DIR ?= $(CURDIR)/.cache/bin
export KUBEBUILDER_ASSETS ?= $(BIN_DIR)
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help deps build test test-unit test-integration e2e bench manifests verify-manifests lint control-plane demo fuzz

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

deps: ## install the Debian packages the tests use (qemu-utils, docker-registry, ...)
	hack/install-deps.sh

build: ## build the commands into bin/
	$(GO) build -o bin/ ./cmd/...

control-plane: ## build kube-apiserver and etcd for the integration tests (cached in .cache/bin)
	GOLDIMAGE_BIN_DIR=$(BIN_DIR) hack/build-control-plane.sh etcd kube-apiserver

test: test-unit test-integration ## run every unit and integration test

test-unit: deps ## unit tests (no API server)
	$(GO) test -count=1 ./pkg/... ./cmd/... ./hack/...
	cd test/tekton && $(GO) test -count=1 ./...
	cd hack/tools/csihostpath && $(GO) test -count=1 ./... # the e2e cluster's test CSI driver; csi-test's sanity suite as root

test-integration: deps control-plane ## integration tests against a real kube-apiserver and etcd
	$(GO) test -count=1 ./test/integration/...

e2e: ## end-to-end tests on a real single-node cluster (needs root)
	hack/e2e.sh

bench: ## benchmarks against qemu-img, skopeo+qemu-img and crane, printing ratios
	hack/bench.sh

fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	hack/fuzz.sh $(or $(FUZZTIME),20s)

manifests: ## regenerate config/crd from the CDI API types
	hack/update-crds.sh

verify-manifests: ## fail when config/crd differs from what the CDI API types generate
	hack/update-crds.sh --verify

lint: ## gofmt, go vet and staticcheck
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

demo: ## the main job on the embedded default: local-mode cron-controller importing a containerDisk
	hack/demo.sh
