//go:build linux

package gosrv

// Protocol is the wire protocol a model speaks (CONTRACT.md § Wire protocols): csrc/echo.h's
// enum protocol.
type Protocol int

const (
	OneShot Protocol = iota // one recv of at most 512 bytes, echo it, half-close, close
	Stream                  // echo everything until the peer closes
)

// ConnLog is how a model logs an accepted connection (CONTRACT.md § Output): csrc/echo.h's
// enum conn_log.
type ConnLog int

const (
	ConnSpace  ConnLog = iota // "new conn IP:PORT"
	ConnParens                // "new conn(IP:PORT)": the seed's blocking servers
)

// Model is a row of the table of models: csrc/echo.h's struct model. Its traits are what the
// tests, the report and the benchmarks read instead of deciding them again.
type Model struct {
	Name    string // command-line name, e.g. "epoll-lt"
	IOModel string // the seed's I/O model, for the report
	// Serve returns 0 once stopped, -1 when the model could not start (the reason is logged).
	Serve    func(srv *Server) int
	Protocol Protocol
	ConnLog  ConnLog
	// Multiplexes: one thread serves several ready connections per wake-up, in an order of
	// service the model defines (CONTRACT.md § Parity).
	Multiplexes bool
	NeedsUring  bool // cannot start where io_uring is unavailable
	// OneP (Go only): the standalone Go server runs the model with GOMAXPROCS=1, one
	// processor for Go code, as its C twin runs one thread; nonblock.go says why.
	OneP bool
}

// models is the table of models in the order of CONTRACT.md § Models, the twin of
// csrc/models.c: name, I/O model, serve, protocol, log of a new connection, multiplexes,
// needs io_uring; then, Go only, one P.
var models = []Model{
	{"iterative", "blocking (iterative)", serveIterative, OneShot, ConnParens, false, false, false},
	{"fork", "blocking (process per connection)", serveFork, OneShot, ConnParens, false, false, false},
	{"epoll-lt", "multiplexing (epoll, level-triggered)", serveEpollLT, OneShot, ConnSpace, true, false, false},
	{"epoll-et", "multiplexing (epoll, edge-triggered)", serveEpollET, Stream, ConnSpace, true, false, false},
	{"thread", "blocking (thread per connection)", serveThread, OneShot, ConnParens, false, false, false},
	{"nonblock", "non-blocking (polling O_NONBLOCK descriptors)", serveNonblock, OneShot, ConnSpace, true, false, true},
	{"select", "multiplexing (select)", serveSelect, OneShot, ConnSpace, true, false, false},
	{"poll", "multiplexing (poll)", servePoll, OneShot, ConnSpace, true, false, false},
	{"sigio", "signal-driven (O_ASYNC, real-time signal)", serveSigio, OneShot, ConnSpace, true, false, false},
	{"uring", "asynchronous (io_uring completions)", serveUring, OneShot, ConnSpace, true, true, false},
}

// Models lists every model in the order of CONTRACT.md § Models.
func Models() []Model { return append([]Model(nil), models...) }

// FindModel looks a model up by its command-line name.
func FindModel(name string) (Model, bool) {
	for _, m := range models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// Traits is the table's row for a model of the table; it panics on any other name, which
// is a caller's mistake (tests and tools iterate over the table's own names).
func Traits(name string) Model {
	m, ok := FindModel(name)
	if !ok {
		panic("gosrv: no model " + name + " in the table")
	}
	return m
}

// NewConnLine is the stdout line the model writes when it accepts a connection from peer
// (IP:PORT), with its newline.
func (m Model) NewConnLine(peer string) string {
	return string(appendNewConn(nil, m.ConnLog == ConnParens, []byte(peer))) + "\n"
}
