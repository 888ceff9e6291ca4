//go:build linux

package gosrv

// Model is one I/O model: csrc/echo.h's struct model.
type Model struct {
	Name    string // command-line name, e.g. "epoll-lt"
	IOModel string // the seed's I/O model, for the report
	// Serve returns 0 once stopped, -1 when the model could not start (the reason is logged).
	Serve func(srv *Server) int
}

// models is the table of models in the order of SPEC §1, the twin of csrc/models.c.
var models = []Model{
	{"iterative", "blocking (iterative)", serveIterative},
	{"fork", "blocking (process per connection)", serveFork},
	{"epoll-lt", "multiplexing (epoll, level-triggered)", serveEpollLT},
	{"epoll-et", "multiplexing (epoll, edge-triggered)", serveEpollET},
	{"thread", "blocking (thread per connection)", serveThread},
	{"nonblock", "non-blocking (polling O_NONBLOCK descriptors)", serveNonblock},
	{"select", "multiplexing (select)", serveSelect},
	{"poll", "multiplexing (poll)", servePoll},
	{"sigio", "signal-driven (O_ASYNC, real-time signal)", serveSigio},
	{"uring", "asynchronous (io_uring completions)", serveUring},
}

// Models lists every model in SPEC order.
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
