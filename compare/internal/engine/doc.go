//go:build linux

// Package engine is a differential engine for network servers: it runs the same scripted
// client traffic against a reference server and against a port of it, records what the
// clients and the server's process observed, and says where the two differ.
//
// A [Scenario] is a list of [Step]s over named client connections on loopback: connect,
// send, half-close (shutdown SHUT_WR), reset (SO_LINGER 0, then close), and waits for
// something the server does (its stdout reaching N lines, a connection receiving N bytes
// or ending). Nothing waits with a bare sleep: every wait polls a condition until it holds
// or the scenario's deadline passes. [Execute] runs a scenario against a [Target] and
// returns a [Transcript]: the bytes and the ending of every connection, notes from the
// steps, the server's stdout and stderr after its [Normalizer]s (the clients' ports become
// their connections' names), and how the server ended once stopped.
//
// The order in which connections were answered is recorded where it is a fact rather than
// a race: a watch step notes whether a connection was answered while another one stalled
// ("l: open and silent for 1s"), and the server's log lines keep their order. Reader
// goroutines' wake-up order is not used: two answers microseconds apart would make it noise.
//
// [Differential] runs a scenario against the reference twice and the port once (an [Impl]
// starts a fresh server each time): where the reference disagrees with itself, the
// scenario depends on timing and the port is not judged by it (compare/internal/enginetest
// runs it under go test).
//
// A Target can be a server in this process (the repository's native and gosrv packages),
// a command line ([Command]) or an address that is already listening ([Address]).
// compare/parity is this engine as a library for anyone's server, with a small API of its
// own; the repository's suite (go test ./compare), compare/gen and paritydiff use the
// engine itself, for the steps and hooks that only this repository's servers need.
package engine
