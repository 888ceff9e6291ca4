//go:build linux

// Package compare is the differential suite: every scenario of scenarios_test.go runs
// against every model of the C reference (in-process through native/, and as the standalone
// binary) and of the Go port (in-process through gosrv/, and as its standalone binary), and
// the transcripts a client observes must agree byte for byte. `go test ./compare` runs it;
// README.md beside this file says what it checks and how to extend it.
package compare
