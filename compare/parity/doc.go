//go:build linux

// Package parity tells whether a network server behaves like the server it was ported
// from, byte for byte, by running the same scripted clients against both:
//
//	ref := parity.Command("./server-c", "{port}")
//	cand := parity.Command("./server-go", "{port}")
//	err := parity.Test(ref, cand, parity.Builtin(parity.OneShot))
//
// err describes every difference, or is nil. A go test calls paritytest.Test(t, …)
// instead, which reports err on t.
//
// A [Target] is a server to start afresh for each run: a command line ([Command]), an
// address already listening ([Address]), or a server in this process ([InProcess], behind
// [Server]). A [Scenario] is client traffic on loopback over named connections: connect,
// send, half-close, reset, and waits for what the server does (a connection receiving N
// bytes or ending, the server's stdout reaching N lines). No step waits with a bare sleep:
// every wait polls its condition until it holds or the run's [Timeout] passes. Scenarios
// are built in code, parsed from files ([ParseScenario], [LoadScenarios]), or taken from
// the built-in set for a [Protocol] ([Builtin]).
//
// [Run] runs a scenario against a fresh server and returns a [Transcript]: what every
// connection received and how it ended, notes from the steps, the server's stdout and
// stderr after the [Normalizer]s (the clients' ports become their connections' names), and
// how the server ended once stopped. [Diff] says where two transcripts differ, in brief
// (lengths, digests, the first differing byte or line), never megabytes.
//
// [Differential] runs the reference twice and the candidate once: where the reference
// disagrees with itself, the scenario depends on timing (noise), and the candidate is not
// judged by it. [Test] does that for a set of scenarios, in the shape of
// testing/fstest.TestFS: the whole check behind one function that returns an error.
//
// # Scenario files
//
// The format, one item per line:
//
//	# A comment: a line whose first non-blank character is '#'. Blank lines are ignored.
//	# The file's first block of comment lines, before any header or step, is the
//	# scenario's description, printed back with it; other comments are dropped.
//	name: two-clients        headers first, each at most once: name (default: the file's
//	protocol: oneshot        name without .scenario), protocol (oneshot, stream or any;
//	log: ordered             default any), log (ordered, or unordered: stdout compared as
//	                         a sorted set of lines, for clients that race; default ordered)
//	connect a                then one step a line: an operation and its arguments,
//	send a "hello"           separated by blanks
//
// The steps, each an [Op] of a [Step] (NAME is a connection: letters, digits, '-' and '_', up to 32; N a count;
// D a Go duration such as 100ms or 1s):
//
//	connect NAME             open a connection; its reader starts at once
//	connect-quiet NAME       open a connection that reads nothing until start-reading
//	start-reading NAME       the quiet connection starts reading
//	send NAME P              one write of the payload P, waited for
//	send-corked NAME P P...  two or more writes under TCP_CORK: they arrive as one segment
//	send-half-close NAME P   one write and the half-close under TCP_CORK: they arrive as
//	                         one segment (the server cannot answer in between)
//	send-async NAME P        one write from the background (it may block: a slow reader)
//	await-sent NAME          wait until the background write of NAME is done
//	half-close NAME          shutdown(SHUT_WR): the server sees end of stream
//	close NAME               close (FIN); NAME may not be used afterwards
//	reset NAME               SO_LINGER 0 and close (RST); NAME may not be used afterwards
//	await-end NAME           wait until NAME ends (end of stream or reset from the server)
//	await-bytes NAME N       wait until NAME received at least N bytes in all
//	await-bytes NAME until P wait until NAME received P (a delimiter such as "\r\n")
//	await-line NAME          wait until NAME received a newline
//	await-reply NAME [D] [P] wait for a reply of unknown length: a byte, then D (200ms)
//	                         with none; with P, until the bytes P (a recorded reply),
//	                         ending early, noted, where the reply leaves P
//	await-queue-full NAME N  wait until NAME's unread receive queue holds N bytes or more
//	                         and stops growing (the server's send met a full buffer)
//	await-stdout N           wait until the server's stdout holds N lines
//	await-stderr N           wait until the server's stderr holds N lines ("listening on"
//	                         counts)
//	watch NAME D [N]         watch NAME for D and note whether it stayed open and silent
//	                         (no byte beyond its first N, default 0) or was answered
//	log-ordered-so-far       with log: unordered, the stdout lines so far keep their order
//	stop                     stop the server (SIGTERM for a process) in mid-scenario
//
// The three reply steps (await-bytes until, await-line, await-reply) take NAME's bytes from
// where the previous one stopped, and NAME's end ends them too.
//
// A payload P is one of:
//
//	"text\x00\n"             a Go string literal (double-quoted with escapes, or `raw`)
//	hex:48656c6c6f           bytes in hexadecimal
//	random:SEED:N            N seeded pseudo-random bytes
//	text:SEED:N              N seeded printable bytes, a-z
//
// Every wait is bounded by the run's deadline. The parser checks what it can before a
// run: a connection is connected once before it is used, not used after close or reset,
// await-sent follows a send-async, and nothing connects after stop. A file that fails to
// parse is reported as "FILE:LINE: what is wrong".
package parity
