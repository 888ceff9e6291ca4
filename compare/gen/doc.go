//go:build linux

// Package gen generates client traffic nobody wrote, for the differential engine
// (compare/internal/engine): scripts drawn by pgregory.net/rapid, run against a reference
// server twice and a port of it once, and the first failing script shrunk to a minimal
// one.
//
//	cfg, _ := gen.ForModel("epoll-lt")     // or gen.Config{Protocol: gen.Stream, Model: ...}
//	cfg.Budget = 30 * time.Second          // or cfg.Checks = 30
//	d, stats, err := gen.Search(cfg, ref, port)
//	// d == nil, err == nil: stats.Scripts scripts, all at parity
//	// d != nil, err == nil: the port diverges; d.Script (text), d.Row (Go), d.Ops (data),
//	//                       d.Outcome (both transcripts and the diff), d.Saved().Write(path)
//	// errors.Is(err, gen.ErrModel): the reference did not do what the model predicts (d says what)
//
// # Scripts
//
// A [Script] is a list of [Op]s on up to four named connections: connect (reading at once
// or quiet, optionally with a small SO_RCVBUF), send generated content (text, binary with
// every byte value, text with NULs, UTF-8; sizes around 511/512/513, the socket buffers
// and beyond) in one write or split into several, half-close, reset (SO_LINGER 0), close,
// read (a quiet connection starts reading), read some (a quiet stream connection reads n
// bytes), and pause (watch a connection that should stay silent).
//
// # The model of the servers
//
// A model of what the servers do decides which operations are valid at each point and
// which waits follow each one, so that every outcome is fixed by the script, not by
// timing. Its rules come from [Config]: the protocol (one-shot or stream) and Serial (one
// connection at a time):
//
//   - after every operation the run waits until the server has done all it will do about
//     it: its stdout and stderr reached the predicted line counts, and the sockets its
//     process holds are the predicted number (every connection it has not finished with;
//     in process the count of sockets in the test's descriptor table, the clients'
//     included);
//   - a one-shot message is sent in one write, or in parts under TCP_CORK, so its one recv
//     sees it whole; it is sent once, before anything else on that connection; it is at
//     most 8 KiB, so that it fits the client's send buffer as it starts (tcp_wmem's 16
//     KiB) and leaves in one piece: a larger one is pushed out in pieces, the server
//     answers the first and closes, and the client's next write meets its reset (found by
//     this generator: "write: broken pipe" on the second corked part of 64 KiB);
//   - a Serial server serves one connection at a time: a second connection is opened only
//     once it has finished with the first;
//   - a stream connection is reset or closed only once every byte sent was echoed and
//     read, so the server is waiting in epoll, not in the middle of an echo;
//   - at the end every connection is closed in order, each awaited, so that the server's
//     last lines are in a fixed order.
//
// The predicted lines are this repository's servers' (CONTRACT.md § Output: a "new conn"
// line per connection, a recv_msg line per one-shot message, "listening on" first on
// stderr), and the socket counts need the server's process: generated scripts drive
// servers that log as these do, started by the engine (in process, or engine.Command),
// not an engine.Address: Search starts and stops each server once before the first script,
// and refuses with a plain error one that does not start or has no process to look at.
//
// # Reference noise
//
// [engine.Differential] runs the reference twice. Since the model admits only steps whose
// outcome is determined, a reference that disagrees with itself on a generated script is
// a defect of the model, not of the port, which is then not run: Search reports it as a
// Divergence of Kind [ReferenceNoise] with an error wrapping [ErrModel], shrunk like any
// other failure, never retried away and never counted as the port's. So is a reference
// whose run fails ([ReferenceFailed]: a wait the model predicted did not happen). A failure
// shrinks only to scripts that fail the same way (Kind): a port's divergence never shrinks
// into the reference's noise.
//
// # Search: checks, budget, rapid
//
// Search calls rapid.Check with a rapid.TB of its own (rapid's messages go to
// Config.Logf and Divergence.Rapid). Rapid's settings are flags on flag.CommandLine;
// Search sets the number of checks and the seed for each call and restores them after,
// so -rapid.checks and RAPID_CHECKS keep the value the user gave for the caller to read.
// With Checks it is one rapid.Check of Checks scripts, as a test's own would be; with a
// Budget and no Checks, rounds of a few checks until the budget is spent. Either way no
// script is started once the budget has passed (rapid's remaining checks of the round pass
// without drawing: Stats.Scripts counts what ran, not rapid's "passed N tests"), so Search
// returns within the budget plus one script (three runs, each bounded by
// Config.Deadline), plus the shrinking of a divergence (Config.ShrinkTime). Searches run
// one at a time.
//
// Shrinking: rapid shrinks the drawn bits for up to ShrinkTime; Search then deletes ops
// (with those that become invalid, which rapid cannot: the op that let a serial server
// take the next connection), names the connections a, b, c, d in the order they connect,
// and makes the ops left simpler (smaller sizes, plain text, one part, seed 0), keeping
// each change only if the script still fails the same way, for at most 100 runs and
// ShrinkTime again.
//
// A divergence is found again by [Replay] (its Ops), by a Search with its Seed and
// Checks 1, or, under go test, by rapid's fail file (Config.Name; with a Budget and no
// Checks, each round replays the fail files first).
package gen
