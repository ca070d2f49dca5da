# The two commands a newcomer needs: `make demo` and `make test`.
GO ?= go
BIN := bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.6.1
DEMO_LISTEN ?= 127.0.0.1:8080

.PHONY: all build demo test lint fmt-check vet unit bench bench-load screenshots clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# Imports the bundled demo rooms into the embedded default (SQLite in ./data)
# and serves them (with a base URL, so feeds and sitemaps work). Importing is
# idempotent, so running it again is safe.
demo: build
	$(BIN)/archiver import testdata/demo/*.ndjson
	$(BIN)/archiver import --network OFTC --channel '#opendev-meeting' --new-room '#opendev-meeting:example.org' testdata/demo/irc/*.log
	@echo
	@echo "    mxarchive demo: browse to http://$(DEMO_LISTEN)/   (Ctrl-C stops it)"
	@echo
	MXARCHIVE_WEB_LISTEN=$(DEMO_LISTEN) MXARCHIVE_WEB_BASE_URL=http://$(DEMO_LISTEN) $(BIN)/archive-web

# Every test: formatting, vet, staticcheck, and the whole suite with the race
# detector, PostgreSQL included (the tests start their own throwaway cluster,
# or use MXARCHIVE_TEST_POSTGRES), and the real-browser tests (Chromium, and
# axe-core which they install with npm). Under CI=true a missing PostgreSQL
# or browser fails.
test: fmt-check vet lint unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

# The benchmark: ours on SQLite and PostgreSQL against Synapse-style
# PostgreSQL full-text search, SQLite FTS5 and a linear scan, on the IRC
# corpus replayed to BENCH_SCALE events. Prints a Markdown table and writes
# bench-results/bench.{md,json,svg}. PostgreSQL: MXARCHIVE_BENCH_POSTGRES, or
# a private cluster from the system's binaries. BENCH_FLAGS adds flags.
BENCH_SCALE ?= 100000
bench: build
	$(BIN)/archive-bench run -scale $(BENCH_SCALE) $(BENCH_FLAGS)

# The load test: LOAD_CLIENTS clients for LOAD_DURATION against a real
# archive-web on PostgreSQL at LOAD_SCALE events plus a hostile room, with the
# database stopped for the middle third. Writes bench-results/load.{md,json}.
LOAD_SCALE ?= 300000
LOAD_CLIENTS ?= 16
LOAD_DURATION ?= 60s
bench-load: build
	$(BIN)/archive-bench load -scale $(LOAD_SCALE) -db postgres -outage -clients $(LOAD_CLIENTS) -duration $(LOAD_DURATION) $(LOAD_FLAGS)

# Screenshots of the main pages at desktop and phone width, for review, in
# bin/screenshots (or $MXARCHIVE_SCREENSHOTS).
screenshots:
	$(GO) test -count=1 -run TestScreenshots ./internal/browsertest/

clean:
	rm -rf $(BIN)
