//go:build linux

package main

// main_test.go - paritydiff run in process (run) against the standalone servers, built
// once: C and Go of every model agree; two different models are told apart; a Go server
// with a one-line bug is caught with a readable diff; servers that do not start, do not
// listen or do not answer give exit 2 within the timeout and leave no process behind;
// bad usage gives exit 2 and the usage.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/compare/parity"
	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/internal/ciskip"
	"github.com/iomodels/iomodels/internal/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binaries are the standalone programs, built once per test binary run
// (standalone.Shared; TestMain removes them).
func binaries(t *testing.T) standalone.Binaries {
	t.Helper()
	b, err := standalone.Shared()
	require.NoError(t, err, "building the standalone programs")
	return b
}

func TestMain(m *testing.M) {
	code := m.Run()
	standalone.RemoveShared()
	removeOutside()
	os.Exit(code)
}

// result is one run of paritydiff.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// paritydiff runs the command in process, and checks that it left no child behind.
func paritydiff(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	start := time.Now()
	code := run(args, &out, &errb)
	r := result{code: code, stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	t.Logf("paritydiff %q: exit %d in %v", args, code, r.took.Round(time.Millisecond))
	kids, err := procfs.Children(os.Getpid())
	require.NoError(t, err)
	assert.Empty(t, kids, "paritydiff left processes behind")
	return r
}

// cmdline is a server's command line for -ref or -port.
func cmdline(server, model string) string { return server + " " + model + " {port}" }

// TestAgreesEveryModel: C against Go, every model, built-in scenarios, protocol guessed.
func TestAgreesEveryModel(t *testing.T) {
	b := binaries(t)
	for _, m := range gosrv.Models() {
		t.Run(m.Name, func(t *testing.T) {
			if m.NeedsUring {
				if reason := gosrv.UringUnavailable(); reason != "" {
					ciskip.Skipf(t, ciskip.Uring, "uring unavailable: %s", reason)
				}
			}
			r := paritydiff(t, "-ref", cmdline(b.Server(standalone.C), m.Name), "-port", cmdline(b.Server(standalone.Go), m.Name))
			require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			want := parity.OneShot
			if m.Protocol == gosrv.Stream {
				want = parity.Stream
			}
			assert.Contains(t, r.stdout, "protocol:  "+string(want)+" (guessed: ")
			n := len(parity.Builtin(want))
			assert.Contains(t, r.stdout, fmt.Sprintf("%d scenarios: %d equal, 0 differs\n", n, n))
			assert.Empty(t, r.stderr)
		})
	}
}

// TestTellsApart: iterative against epoll-lt differ in their log ("new conn(…)" against
// "new conn …") and in their order of service (the stalled client holds the live one back
// in iterative only).
func TestTellsApart(t *testing.T) {
	b := binaries(t)
	r := paritydiff(t, "-ref", cmdline(b.Server(standalone.C), "iterative"), "-port", cmdline(b.Server(standalone.C), "epoll-lt"))
	require.Equal(t, exitDiffers, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	t.Logf("output:\n%s", r.stdout)
	assert.Contains(t, r.stdout, "the smallest diverging scenario, ")
	assert.Contains(t, r.stdout, "stdout differs at line 1")
	assert.Regexp(t, `(?m)^! stdout 1 +new conn\(127\.0\.0\.1:<a>\) +new conn 127\.0\.0\.1:<a>$`, r.stdout)
	assert.Regexp(t, `(?m)^  stalled-beside-live +\d+: observations: reference: \["l: open and silent for 1s"\]$`, r.stdout)
}

// TestCatchesMutant: a Go server whose one-shot buffer is 511 bytes (one line changed, built
// with go build -overlay as compare/mutants_test.go does) is caught on size-513, the
// smallest scenario it fails (size-512 too), with the bytes and the log line that differ.
func TestCatchesMutant(t *testing.T) {
	b := binaries(t)
	mutant := buildMutant(t, "gosrv/common.go", "BufSize     = 512", "BufSize     = 511")
	r := paritydiff(t, "-ref", cmdline(b.Server(standalone.C), "iterative"), "-port", cmdline(mutant, "iterative"))
	require.Equal(t, exitDiffers, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	t.Logf("output:\n%s", r.stdout)
	assert.Contains(t, r.stdout, "the smallest diverging scenario, size-513 (3 steps, builtin/size-513.scenario)")
	assert.Contains(t, r.stdout, "    send-half-close a text:513:513\n")
	assert.Contains(t, r.stdout, "bytes received on a differs at byte 511")
	assert.Regexp(t, `(?m)^! conn a +512 bytes, from 505: …"[a-z]{7}" +511 bytes, from 505: …"[a-z]{6}"$`, r.stdout)
	// The log line differs at its end: both columns show it from a little before.
	assert.Regexp(t, `(?m)^! stdout 2 +…[a-z]{23} +…[a-z]{22}$`, r.stdout)
	assert.Regexp(t, `(?m)^  size-512 +4: bytes received on a differs at byte 511`, r.stdout)
	for _, equal := range []string{"plain", "utf8", "empty", "sequential-5"} {
		assert.NotRegexp(t, `(?m)^  `+equal+` `, r.stdout, "%s does not depend on the buffer's size", equal)
	}

	// Generated scripts alone: this seed's first script sends 512 bytes (measured), and
	// the divergence shrinks to a connection and that message.
	r = paritydiff(t, "-builtin=false", "-gen", "2s", "-gen-seed", "4707120638619957368",
		"-ref", cmdline(b.Server(standalone.C), "iterative"), "-port", cmdline(mutant, "iterative"))
	require.Equal(t, exitDiffers, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	t.Logf("output:\n%s", r.stdout)
	assert.Regexp(t, `(?m)^generated: \d+ script\(s\) in .*, differs \(seed \d+; \d+ runs to shrink it\)$`, r.stdout)
	assert.Regexp(t, `the smallest diverging scenario, generated-oneshot-[0-9a-f]{8} \(\d+ steps, generated, shrunk; drawn again with -gen-seed \d+\)`, r.stdout)
	assert.Contains(t, r.stdout, "bytes received on a differs at byte 511")
	assert.Contains(t, r.stdout, "as Go, for a table of engine.Scenario:\n    gen.Script{\n")
}

// TestGeneratedAgree: C against Go with generated scripts after the built-in scenarios,
// whose stalled-beside-live says the iterative reference serves one connection at a time.
func TestGeneratedAgree(t *testing.T) {
	b := binaries(t)
	r := paritydiff(t, "-gen", "2s", "-ref", cmdline(b.Server(standalone.C), "iterative"), "-port", cmdline(b.Server(standalone.Go), "iterative"))
	require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, `(?m)^generated: [1-9]\d* script\(s\) in .* \(the reference held a live client behind a stalled one in stalled-beside-live\), equal$`, r.stdout)

	r = paritydiff(t, "-gen", "1s", "-ref-addr", "127.0.0.1:1", "-port", "x")
	assert.Equal(t, exitTrouble, r.code)
	assert.Contains(t, r.stderr, "paritydiff: -gen needs servers started by paritydiff (-ref and -port command lines)")
}

// buildMutant builds the Go server with old replaced by new in file (which must hold old
// exactly once) and returns its path.
func buildMutant(t *testing.T, file, old, new string) string {
	t.Helper()
	root := standalone.RepoRoot()
	src := filepath.Join(root, file)
	text, err := os.ReadFile(src)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(text), old), "%q must occur once in %s (has gosrv changed?)", old, file)
	dir := t.TempDir()
	mutated := filepath.Join(dir, filepath.Base(file))
	require.NoError(t, os.WriteFile(mutated, []byte(strings.Replace(string(text), old, new, 1)), 0o644))
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {src: mutated}})
	require.NoError(t, err)
	overlayPath := filepath.Join(dir, "overlay.json")
	require.NoError(t, os.WriteFile(overlayPath, overlay, 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "server")
	cmd := exec.CommandContext(ctx, "go", "build", "-overlay", overlayPath, "-o", bin, "./gosrv/cmd/server")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build the mutant: %s", out)
	return bin
}

// TestServerDoesNotStart: a server that exits at once, or that never listens, is exit 2
// with what happened, within the timeout, and nothing is left running.
func TestServerDoesNotStart(t *testing.T) {
	b := binaries(t)
	good := cmdline(b.Server(standalone.C), "iterative")
	for _, c := range []struct {
		name, ref, port, want string
	}{
		{"reference exits", "false {port}", good, `the reference server (false {port}) does not start: [false `},
		{"port exits", good, "false {port}", `the port server (false {port}) does not start: [false `},
		{"reference never listens", "sleep 60 {port}", good, `the reference server (sleep 60 {port}) does not start: [sleep 60 `},
		{"port never listens", good, "sleep 60 {port}", `the port server (sleep 60 {port}) does not start: [sleep 60 `},
		{"no such program", "/nonexistent/server {port}", good, `the reference server (/nonexistent/server {port}) does not start: fork/exec /nonexistent/server: no such file or directory`},
		{"wrong model", cmdline(b.Server(standalone.C), "no-such-model"), good, "does not start: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := paritydiff(t, "-timeout", "2s", "-ref", c.ref, "-port", c.port)
			assert.Equal(t, exitTrouble, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, c.want)
			assert.Less(t, r.took, 2*time.Second+3*time.Second, "bounded by -timeout 2s")
			if strings.HasPrefix(c.ref, "sleep") || strings.HasPrefix(c.port, "sleep") {
				assert.Regexp(t, `nothing listening on port \d+ within 2s`, r.stderr)
			}
			t.Logf("stderr: %s", r.stderr)
		})
	}
}

// TestReferenceDoesNotAnswer: a reference that accepts and never answers cannot have its
// protocol guessed, and fails its first scenario by itself when the protocol is given:
// exit 2, bounded by -timeout, with the scenario it failed.
func TestReferenceDoesNotAnswer(t *testing.T) {
	b := binaries(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	good := cmdline(b.Server(standalone.C), "iterative")

	r := paritydiff(t, "-timeout", "1s", "-ref-addr", l.Addr().String(), "-port", good)
	assert.Equal(t, exitTrouble, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "paritydiff: cannot guess the protocol: the probe (a connection sending \"paritydiff probe\" without half-closing) failed: ")
	assert.Contains(t, r.stderr, "watchdog")
	assert.Contains(t, r.stderr, "give -protocol oneshot or -protocol stream")

	r = paritydiff(t, "-timeout", "1s", "-protocol", "oneshot", "-run", "^plain$", "-ref-addr", l.Addr().String(), "-port", good)
	assert.Equal(t, exitTrouble, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "paritydiff: the reference fails scenario plain by itself: reference run 1: reference: step 4 (await the end of a): watchdog: ")
	assert.Contains(t, r.stderr, "\n  name: plain\n")
	assert.Less(t, r.took, 5*time.Second)
}

// TestAddresses: servers already listening, given by their address: no logs and no
// status, scenarios that need them skipped, the rest compared.
func TestAddresses(t *testing.T) {
	b := binaries(t)
	var addrs []string
	for _, impl := range []standalone.Impl{standalone.C, standalone.Go} {
		p, err := standalone.StartServer(b.Server(impl), 10*time.Second, "iterative", "0")
		require.NoError(t, err)
		defer p.Kill()
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p.Port))
	}
	var out, errb bytes.Buffer
	code := run([]string{"-ref-addr", addrs[0], "-port-addr", addrs[1], "-v"}, &out, &errb)
	require.Equal(t, exitEqual, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	assert.Contains(t, out.String(), "note: the reference is an address ("+addrs[0]+"): its stdout, stderr and exit status are not seen")
	assert.Contains(t, out.String(), "skipped  reset-before-send (7 steps, 0 ms)\n")
	assert.Contains(t, out.String(), "equal    plain (4 steps, ")
	assert.Regexp(t, `\d+ scenarios: \d+ equal, 0 differs, \d+ skipped\n`, out.String())
}

// TestScenarioDirJSONNoise: a directory of scenario files alone (-builtin=false), in JSON;
// a reference whose stderr carries its pid disagrees with itself (noise, not a
// divergence), until -normalize rewrites the pid.
func TestScenarioDirJSONNoise(t *testing.T) {
	b := binaries(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "twice.scenario"), []byte(
		"# Two messages on two connections.\nname: twice\nconnect a\nsend a \"one\"\nhalf-close a\nawait-end a\nconnect b\nsend b hex:00ff\nhalf-close b\nawait-end b\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stream-only.scenario"), []byte("protocol: stream\nconnect a\nawait-end a\n"), 0o644))
	// The shell prints its pid, then becomes the server: same process, another pid each run.
	withPid := func(server string) string {
		return fmt.Sprintf(`sh -c 'echo "pid $$" >&2; exec "$0" iterative "$1"' %s {port}`, server)
	}
	ref, port := withPid(b.Server(standalone.C)), withPid(b.Server(standalone.Go))

	type doc struct {
		Result, Protocol string
		ProtocolFrom     string `json:"protocol_from"`
		Counts           map[string]int
		Scenarios        []struct {
			Name, Source, Result, Diff, Scenario string
			Steps                                int
			Reference, Reference2, Port          *struct {
				Connections []struct {
					Name, Ending string
					Length       int
					Data         []byte
				}
				Stdout, Stderr, Status string
			}
		}
	}
	parse := func(r result) doc {
		var d doc
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &d), "stdout:\n%s", r.stdout)
		return d
	}

	r := paritydiff(t, "-json", "-builtin=false", "-scenarios", dir, "-protocol", "oneshot", "-ref", ref, "-port", port)
	require.Equal(t, exitNoise, r.code, "noise is not a divergence, nor parity; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	d := parse(r)
	assert.Equal(t, "noise", d.Result)
	require.Len(t, d.Scenarios, 1, "the stream-only file is not for oneshot")
	s := d.Scenarios[0]
	assert.Equal(t, "twice", s.Name)
	assert.Equal(t, filepath.Join(dir, "twice.scenario"), s.Source)
	assert.Equal(t, "noise", s.Result)
	assert.Contains(t, s.Diff, "stderr differs at line 1")
	require.NotNil(t, s.Reference2)
	assert.Nil(t, s.Port, "the port is not run when the reference disagrees with itself")
	assert.Equal(t, 1, d.Counts["noise"])

	// The same as text: noise is said, with where the reference disagreed with itself.
	r = paritydiff(t, "-builtin=false", "-scenarios", dir, "-protocol", "oneshot", "-ref", ref, "-port", port)
	require.Equal(t, exitNoise, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "1 scenario: 0 equal, 0 differs, 1 noise\n")
	assert.Contains(t, r.stdout, "result: noise: no scenario differs, but the reference disagreed with itself in 1, where the port was not judged (exit 3)\n")
	assert.Regexp(t, `noise: twice: the reference disagrees with itself, so the port is not judged by it:\n  stderr differs at line 1: reference#1 has 3 lines, reference#2 has 3\n    reference#1: "pid \d+"\n    reference#2: "pid \d+"`, r.stdout)

	r = paritydiff(t, "-json", "-builtin=false", "-scenarios", dir, "-protocol", "oneshot", "-normalize", `pid \d+=>pid N`, "-ref", ref, "-port", port)
	require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	d = parse(r)
	s = d.Scenarios[0]
	assert.Equal(t, "equal", s.Result)
	assert.Equal(t, "given by -protocol", d.ProtocolFrom)
	assert.Equal(t, 8, s.Steps)
	assert.Contains(t, s.Scenario, "send b hex:00ff\n")
	require.NotNil(t, s.Reference)
	require.NotNil(t, s.Port)
	assert.Equal(t, "pid N\nlistening on 0.0.0.0:PORT\nsignal: SIGTERM(15)   close server ... done\n", s.Port.Stderr)
	assert.Equal(t, "exited 0", s.Port.Status)
	require.Len(t, s.Port.Connections, 2)
	assert.Equal(t, []byte{0, 0xff}, s.Port.Connections[1].Data)
	assert.Equal(t, "EOF", s.Port.Connections[1].Ending)
	assert.Equal(t, "new conn(127.0.0.1:<a>)\nrecv_msg: one\nnew conn(127.0.0.1:<b>)\nrecv_msg: \n", s.Reference.Stdout)
}

func TestBadUsage(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "paritydiff: no reference server: give -ref 'CMD ARGS {port}' or -ref-addr HOST:PORT"},
		{"no port", []string{"-ref", "x {port}"}, "paritydiff: no port server: give -port 'CMD ARGS {port}' or -port-addr HOST:PORT"},
		{"both", []string{"-ref", "x", "-ref-addr", "127.0.0.1:1", "-port", "y"}, "paritydiff: -ref and -ref-addr both given: give one"},
		{"unterminated quote", []string{"-ref", "x 'a {port}", "-port", "y"}, `paritydiff: -ref "x 'a {port}": unterminated ' quote`},
		{"empty command", []string{"-ref", "  ", "-port", "y"}, `paritydiff: -ref "  ": empty command line`},
		{"protocol", []string{"-ref", "x", "-port", "y", "-protocol", "udp"}, `paritydiff: -protocol "udp": want oneshot or stream`},
		{"timeout", []string{"-ref", "x", "-port", "y", "-timeout", "0s"}, "paritydiff: -timeout 0s: want a positive duration"},
		{"normalize without =>", []string{"-ref", "x", "-port", "y", "-normalize", "pid"}, `paritydiff: -normalize "pid": want REGEX=>REPLACEMENT`},
		{"normalize bad regexp", []string{"-ref", "x", "-port", "y", "-normalize", "(=>x"}, "paritydiff: -normalize \"(=>x\": error parsing regexp: missing closing ): `(`"},
		{"run bad regexp", []string{"-ref", "x", "-port", "y", "-run", "["}, "paritydiff: -run: error parsing regexp: missing closing ]: `[`"},
		{"nothing to run", []string{"-ref", "x", "-port", "y", "-builtin=false"}, "paritydiff: -builtin=false and no -scenarios or -gen: nothing to run"},
		{"negative gen", []string{"-ref", "x", "-port", "y", "-gen", "-1s"}, "paritydiff: -gen -1s: want a positive duration"},
		{"positional", []string{"-ref", "x", "-port", "y", "extra"}, `paritydiff: unexpected argument "extra" (quote a command line: -ref 'CMD ARGS {port}')`},
		{"unknown flag", []string{"-reference", "x"}, "flag provided but not defined: -reference"},
		{"bad duration", []string{"-timeout", "soon"}, `invalid value "soon" for flag -timeout: parse error`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := paritydiff(t, c.args...)
			assert.Equal(t, exitTrouble, r.code)
			assert.Contains(t, r.stderr, c.want)
			assert.Contains(t, r.stderr, "usage: paritydiff -ref 'CMD ARGS {port}' | -ref-addr HOST:PORT")
			assert.Empty(t, r.stdout)
		})
	}
	t.Run("scenario file error", func(t *testing.T) {
		b := binaries(t)
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.scenario"), []byte("connect a\nsend a hello\n"), 0o644))
		good := cmdline(b.Server(standalone.C), "iterative")
		r := paritydiff(t, "-scenarios", dir, "-protocol", "oneshot", "-ref", good, "-port", good)
		assert.Equal(t, exitTrouble, r.code)
		assert.Contains(t, r.stderr, "paritydiff: -scenarios: "+filepath.Join(dir, "bad.scenario")+`:2: send a: payload hello: want a Go string literal`)
	})
	t.Run("help", func(t *testing.T) {
		r := paritydiff(t, "-h")
		assert.Equal(t, exitEqual, r.code)
		assert.Contains(t, r.stderr, "-normalize REGEX=>REPLACEMENT")
	})
}

func TestSplitCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"bin/server iterative {port}", []string{"bin/server", "iterative", "{port}"}},
		{"  a\t b  ", []string{"a", "b"}},
		{`sh -c 'echo "$0" x' {port}`, []string{"sh", "-c", `echo "$0" x`, "{port}"}},
		{`a "b c" "d\"e\\f\$g\h"`, []string{"a", "b c", `d"e\f$g\h`}},
		{`a\ b c\'d`, []string{"a b", "c'd"}},
		{`a''b "" ''`, []string{"ab", "", ""}},
	} {
		got, err := splitCommand(c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, got, c.in)
	}
	for _, bad := range []string{"", " ", "a 'b", `a "b`, `a \`} {
		_, err := splitCommand(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// TestSideBySide: log lines are aligned on what both sides share, so a line one side
// lacks faces "(no line)" and the lines after it still face their twins; bytes differing
// late are shown from a little before the difference; long equal runs are elided.
func TestSideBySide(t *testing.T) {
	var ref, port parity.Transcript
	ref.Conns = []parity.Conn{{Name: "a", Data: []byte(strings.Repeat("x", 100) + "A"), End: "EOF"}, {Name: "b", End: "reset"}}
	port.Conns = []parity.Conn{{Name: "a", Data: []byte(strings.Repeat("x", 100) + "B"), End: "EOF"}, {Name: "c", End: "open"}}
	var lines []string
	for i := 0; i < 20; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	ref.Stdout = strings.Join(lines, "\n") + "\n"
	port.Stdout = strings.Join(lines[:10], "\n") + "\nextra\n" + strings.Join(lines[10:], "\n") + "\n"
	ref.Stderr, port.Stderr = "same\nend\n", "same\nend"
	ref.Status, port.Status = "exited 0", "killed by SIGSEGV"
	got := sideBySide(&ref, &port)
	t.Logf("\n%s", got)
	want := []string{
		`! conn a        101 bytes, from 94: …"xxxxxxA"                101 bytes, from 94: …"xxxxxxB"`,
		`! conn b        0 bytes                                       (none)`,
		`! conn c        (none)                                        0 bytes`,
		`  stdout 1      line 0                                        line 0`,
		`                … 7 equal rows`,
		`  stdout 9      line 8                                        line 8`,
		`  stdout 10     line 9                                        line 9`,
		`! stdout +11    (no line)                                     extra`,
		`  stdout 11     line 10                                       line 10`,
		`  stdout 12     line 11                                       line 11`,
		`                … 8 equal rows`,
		`  stderr 1      same                                          same`,
		`! stderr 2      end                                           end [no newline at the end]`,
		`! status        exited 0                                      killed by SIGSEGV`,
	}
	for _, w := range want {
		assert.Contains(t, got, w+"\n")
	}
}

// TestStartRetried: a server that exits before it listens (as one whose port another
// process took meanwhile does) is started again on another port: here the reference's
// first start of all fails, and the comparison goes on.
func TestStartRetried(t *testing.T) {
	b := binaries(t)
	mark := filepath.Join(t.TempDir(), "started-once")
	ref := fmt.Sprintf(`sh -c 'if [ -e "$2" ]; then exec "$0" iterative "$1"; fi; touch "$2"; exit 1' %s {port} %s`, b.Server(standalone.C), mark)
	r := paritydiff(t, "-run", "^plain$", "-ref", ref, "-port", cmdline(b.Server(standalone.Go), "iterative"))
	require.Equal(t, exitEqual, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "1 scenario: 1 equal, 0 differs\n")
	assert.FileExists(t, mark)
}
