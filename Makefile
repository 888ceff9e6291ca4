# make        builds bin/c/{server,client} with the C compiler alone and
#             bin/go/{server,client} with CGO_ENABLED=0
# make test   runs the differential suite (what CI runs)
# make report prints the benchmark table of every model, C beside Go (compare/cmd/benchreport)
# make sidebyside writes the side-by-side view for readers into bin/sidebyside (compare/cmd/sidebyside)
# make targets judges the Go port's speed targets: C and Go in 15 alternating rounds per model
CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror
LDLIBS  += -lpthread
GO      ?= go

MODELS_C := csrc/iterative.c csrc/fork.c csrc/epoll_lt.c csrc/epoll_et.c \
            csrc/thread.c csrc/nonblock.c csrc/select.c csrc/poll.c \
            csrc/sigio.c csrc/uring.c csrc/uring_ring.c
SERVER_C := csrc/server_main.c csrc/models.c csrc/common.c $(MODELS_C)
CLIENT_C := csrc/client.c csrc/common.c
GO_SRC   := $(shell find gosrv -name '*.go') go.mod go.sum

# make sanitize  builds bin/asan/server: the C server with AddressSanitizer and
#                UndefinedBehaviorSanitizer, halting at the first error
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all test fuzz report sidebyside targets clean sanitize
all: bin/c/server bin/c/client bin/go/server bin/go/client native/csrc_hash.go

# native/ compiles csrc/ through #include, which the go build cache does not key on: the
# sum of csrc/ in native/csrc_hash.go does (internal/csrchash; the suite checks it).
native/csrc_hash.go: $(wildcard csrc/*.c csrc/*.h)
	cd native && $(GO) generate .

sanitize: bin/asan/server

bin/asan/server: $(SERVER_C) csrc/echo.h csrc/uring_ring.h
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -Wall -Wextra -Werror $(SANITIZE_FLAGS) -o $@ $(SERVER_C) $(LDLIBS)

bin/c/server: $(SERVER_C) csrc/echo.h csrc/uring_ring.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(SERVER_C) $(LDLIBS)

bin/c/client: $(CLIENT_C) csrc/echo.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(CLIENT_C)

bin/go/server: $(GO_SRC)
	CGO_ENABLED=0 $(GO) build -o $@ ./gosrv/cmd/server

bin/go/client: $(GO_SRC)
	CGO_ENABLED=0 $(GO) build -o $@ ./gosrv/cmd/client

test: native/csrc_hash.go
	$(GO) test -race -timeout 20m ./...

# Generated scenarios for minutes instead of seconds (compare/generated_test.go): rapid
# draws CHECKS scripts per model (fork a tenth of them, at least 200); a divergence is
# shrunk, printed as a scenario and saved as MODEL-latest.json in GEN_SAVE (default: a new
# temporary directory; the failure prints the path). Commit it under
# compare/testdata/generated/ to have every later go test replay it.
CHECKS   ?= 2000
GEN_SAVE ?=
fuzz:
	$(GO) test -timeout 60m -run 'TestGenerated' ./compare -rapid.checks=$(CHECKS) $(if $(GEN_SAVE),-gen-save $(GEN_SAVE)) -v

report:
	$(GO) run ./compare/cmd/benchreport

sidebyside:
	$(GO) run ./compare/cmd/sidebyside -o bin/sidebyside

# The targets (>= 0.95x C's conn/s, <= 1.10x its server CPU per connection, <= 1.20x its
# p99 latency, medians of per-round ratios) on every model, ~17 min on 2 cores (fork 11 of
# them; ~7.5 min when fork runs apart with CONNS=5000); run it on a quiet machine. ROUNDS and CONNS as in compare/cmd/benchreport/README.md;
# MODELS=a,b for some models only; AB_OUT gets the rounds for benchstat.
ROUNDS ?= 15
CONNS  ?= 20000
AB_OUT ?= ab.txt
targets: bin/c/server bin/go/server
	$(GO) run ./compare/internal/load/abtool -bin c=bin/c/server -bin go=bin/go/server \
	    $(if $(MODELS),-models $(MODELS)) -rounds $(ROUNDS) -conns $(CONNS) -o $(AB_OUT)

clean:
	rm -rf bin
