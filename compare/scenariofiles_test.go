//go:build linux

package compare

// scenariofiles_test.go - the scenario files of package parity: every built-in file
// (compare/parity/scenarios, which paritydiff runs against anyone's server) against every
// model of its protocol, C in process twice against Go in process, which proves each one
// deterministic and the ports at parity on it; and the parser, on good files and on each
// kind of mistake with its message.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/parity"
	"github.com/iomodels/iomodels/compare/parity/paritytest"
	"github.com/iomodels/iomodels/gosrv"
	"github.com/iomodels/iomodels/native"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileProtocol is the scenario-file protocol of a model of the table.
func fileProtocol(model string) parity.Protocol {
	if gosrv.Traits(model).Protocol == gosrv.Stream {
		return parity.Stream
	}
	return parity.OneShot
}

func TestScenarioFiles(t *testing.T) {
	for _, model := range availableModels(t) {
		t.Run(model, func(t *testing.T) {
			c := parity.InProcess(func() (parity.Server, error) { return native.Start(model) })
			g := parity.InProcess(func() (parity.Server, error) { return gosrv.Start(model) })
			for _, f := range parity.Builtin(fileProtocol(model)) {
				t.Run(f.Name, func(t *testing.T) {
					base := takeBaseline()
					paritytest.Test(t, c, g, []parity.Scenario{f})
					base.check(t)
				})
			}
		})
	}
}

// TestBuiltinScenarioTable: every built-in file parses, prints back to itself, has a name
// of its own, and each protocol has its set.
func TestBuiltinScenarioTable(t *testing.T) {
	all := parity.Builtin("")
	requireTable(t, "built-in scenario files", all, 20, func(f parity.Scenario) string { return f.Name })
	for _, p := range []parity.Protocol{parity.OneShot, parity.Stream} {
		assert.GreaterOrEqual(t, len(parity.Builtin(p)), 10, "built-in scenarios for %s", p)
	}
	for _, f := range all {
		assert.Equal(t, f.Name+parity.ScenarioExt, filepath.Base(f.Source), "a built-in file is named after its scenario")
		assert.NotEmpty(t, f.Doc, "%s: a built-in file says what it checks and why it is deterministic", f.Source)
		back, err := parity.ParseScenario("printed", f.Format())
		require.NoError(t, err, "%s printed back:\n%s", f.Source, f.Format())
		assert.Equal(t, withoutPlaces(f), withoutPlaces(back), "%s printed and read back", f.Source)
	}
}

// withoutPlaces is f without where it was read from (Source, line numbers).
func withoutPlaces(f parity.Scenario) parity.Scenario {
	f.Source = ""
	steps := make([]parity.Step, len(f.Steps))
	for i, s := range f.Steps {
		s.Line = 0
		steps[i] = s
	}
	f.Steps = steps
	return f
}

func TestParseScenario(t *testing.T) {
	src := `# Every step and payload kind once.
# Second line of the description.

# not part of the description
name: every-step
protocol: oneshot
log: unordered
connect a
connect-quiet q
	send a "tab\there \x00 \"q\""
send-corked a hex:0001ff ` + "`raw text`" + `
send-async q random:3:10
await-sent q
start-reading q
half-close a
await-bytes a 3
await-queue-full q 1
await-stdout 2
await-stderr 1
watch a 250ms 3
watch q 1s
log-ordered-so-far
await-end a
close a
reset q
stop
`
	f, err := parity.ParseScenario("dir/x.scenario", []byte(src))
	require.NoError(t, err)
	assert.Equal(t, "every-step", f.Name)
	assert.Equal(t, parity.OneShot, f.Protocol)
	assert.True(t, f.UnorderedLog)
	assert.Equal(t, []string{"Every step and payload kind once.", "Second line of the description."}, f.Doc)
	require.Len(t, f.Steps, 19)
	assert.Equal(t, parity.Send, f.Steps[2].Op)
	assert.Equal(t, []byte("tab\there \x00 \"q\""), f.Steps[2].Data[0])
	assert.Equal(t, 10, f.Steps[2].Line)
	assert.Equal(t, []byte{0, 1, 0xff}, f.Steps[3].Data[0])
	assert.Equal(t, []byte("raw text"), f.Steps[3].Data[1])
	assert.Equal(t, engine.Payload(3, 10), f.Steps[4].Data[0])
	assert.Equal(t, "send-async q random:3:10", f.Steps[4].String())
	assert.Equal(t, 250*time.Millisecond, f.Steps[12].For)
	assert.Equal(t, 3, f.Steps[12].N)
	assert.Equal(t, "watch q 1s", f.Steps[13].String())
	assert.Equal(t, `send-corked a hex:0001ff "raw text"`, f.Steps[3].String())
	assert.False(t, f.AppliesTo(parity.Stream))

	back, err := parity.ParseScenario("printed", f.Format())
	require.NoError(t, err, "printed:\n%s", f.Format())
	assert.Equal(t, withoutPlaces(f), withoutPlaces(back))

	// Defaults: the name is the file's, the protocol any, the log ordered; CRLF is fine.
	f, err = parity.ParseScenario("/some/where/my-case.scenario", []byte("connect a\r\nsend a text:1:5\r\nawait-end a\r\n"))
	require.NoError(t, err)
	assert.Equal(t, "my-case", f.Name)
	assert.Equal(t, parity.Any, f.Protocol)
	assert.False(t, f.UnorderedLog)
	assert.True(t, f.AppliesTo(parity.Stream) && f.AppliesTo(parity.OneShot))
	assert.Equal(t, engine.Text(1, 5), f.Steps[1].Data[0])
}

func TestParseScenarioErrors(t *testing.T) {
	for _, c := range []struct{ name, src, want string }{
		{"empty", "# only a comment\n\n", "f.scenario: no steps"},
		{"unknown step", "connect a\nsned a \"x\"\n", `f.scenario:2: unknown step "sned" (want one of await-bytes, `},
		{"unknown header", "nmae: x\nconnect a\n", `f.scenario:1: unknown header "nmae" (want name, protocol or log)`},
		{"header after step", "connect a\nname: x\n", `f.scenario:2: header "name" after the first step (headers come first)`},
		{"header twice", "name: x\nname: y\nconnect a\n", `f.scenario:2: header "name" given twice (first at line 1)`},
		{"header without value", "protocol:\nconnect a\n", `f.scenario:1: header "protocol" wants one value, got 0`},
		{"bad protocol", "protocol: udp\nconnect a\n", `f.scenario:1: protocol "udp": want oneshot, stream or any`},
		{"bad log", "log: sorted\nconnect a\n", `f.scenario:1: log "sorted": want ordered or unordered`},
		{"bad name", "name: two words\nconnect a\n", `f.scenario:1: header "name" wants one value, got 2`},
		{"bad name chars", "name: a/b\nconnect a\n", `f.scenario:1: name "a/b": use letters, digits, '-' and '_'`},
		{"not connected", "send a \"x\"\n", "f.scenario:1: send a: no connection a (connect it first)"},
		{"connected twice", "connect a\n\nconnect a\n", "f.scenario:3: connection a connected twice (first at line 1)"},
		{"used after close", "connect a\nclose a\nhalf-close a\n", "f.scenario:3: half-close a: connection a was closed at line 2"},
		{"used after reset", "connect a\nreset a\nreset a\n", "f.scenario:3: reset a: connection a was closed at line 2"},
		{"connect after stop", "connect a\nstop\nconnect b\n", "f.scenario:3: connect b after the server was stopped (line 2)"},
		{"stop twice", "connect a\nstop\nstop\n", "f.scenario:3: stop given twice (first at line 2)"},
		{"missing argument", "connect\n", "f.scenario:1: connect wants NAME, got 0 argument(s)"},
		{"extra argument", "connect a b\n", "f.scenario:1: connect wants NAME, got 2 argument(s)"},
		{"send without payload", "connect a\nsend a\n", "f.scenario:2: send wants NAME PAYLOAD, got 1 argument(s)"},
		{"corked with one part", "connect a\nsend-corked a \"x\"\n", "f.scenario:2: send-corked wants NAME PAYLOAD PAYLOAD..., got 2 argument(s)"},
		{"unquoted payload", "connect a\nsend a hello\n", `f.scenario:2: send a: payload hello: want a Go string literal ("..."), hex:HEX, random:SEED:N or text:SEED:N`},
		{"unterminated string", "connect a\nsend a \"hello\n", `f.scenario:2: unterminated string "hello`},
		{"no blank after string", "connect a\nsend a \"x\"y\n", `f.scenario:2: no blank after "x"`},
		{"bad escape", "connect a\nsend a \"\\q\"\n", `f.scenario:2: send a: payload "\q": not a valid Go string literal`},
		{"bad hex", "connect a\nsend a hex:0g\n", "f.scenario:2: send a: payload hex:0g: bad hexadecimal: encoding/hex: invalid byte: U+0067 'g'"},
		{"odd hex", "connect a\nsend a hex:abc\n", "f.scenario:2: send a: payload hex:abc: bad hexadecimal: encoding/hex: odd length hex string"},
		{"random without size", "connect a\nsend a random:1\n", "f.scenario:2: send a: payload random:1: want random:SEED:N"},
		{"random too large", "connect a\nsend a random:1:99999999999\n", `f.scenario:2: send a: payload random:1:99999999999: size "99999999999": want a whole number from 0 to 67108864`},
		{"bad seed", "connect a\nsend a text:x:3\n", `f.scenario:2: send a: payload text:x:3: seed "x": want a whole number`},
		{"bad count", "connect a\nawait-bytes a -1\n", `f.scenario:2: await-bytes: count "-1": want a whole number from 0 to 1073741824`},
		{"bad stdout count", "await-stdout many\n", `f.scenario:1: await-stdout: count "many": want a whole number from 0 to 1073741824`},
		{"bad duration", "connect a\nwatch a 5\n", `f.scenario:2: watch a: duration "5": want a Go duration above 0 and at most 30s, such as 100ms or 1s`},
		{"watch too long", "connect a\nwatch a 1h\n", `f.scenario:2: watch a: duration "1h": want a Go duration above 0 and at most 30s`},
		{"bad connection name", "connect a.b\n", `f.scenario:1: connection name "a.b": use up to 32 letters, digits, '-' and '_'`},
		{"await-sent alone", "connect a\nawait-sent a\n", "f.scenario:2: await-sent a: no send-async on a before"},
		{"send-async never awaited", "connect a\nsend-async a \"x\"\n", "f.scenario: send-async a is never awaited (add await-sent a)"},
		{"send-async twice", "connect a\nsend-async a \"x\"\nsend-async a \"y\"\n", "f.scenario:3: send-async a: the previous one is not awaited (await-sent a)"},
		{"ordered so far needs unordered", "connect a\nlog-ordered-so-far\n", "f.scenario:2: log-ordered-so-far needs the header 'log: unordered'"},
		{"control character", "connect a\nsend a \"x\x01\"\n", "f.scenario:2: control character in the line (write bytes as a quoted string or hex:)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parity.ParseScenario("f.scenario", []byte(c.src))
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), c.want), "error %q, want it to begin with %q", err, c.want)
		})
	}
	t.Run("file name as name", func(t *testing.T) {
		_, err := parity.ParseScenario("dir/my case.scenario", []byte("connect a\n"))
		assert.EqualError(t, err, `dir/my case.scenario: no name header, and the file's name "my case" cannot be one (letters, digits, '-' and '_')`)
	})
}

func TestLoadScenarios(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
	}
	write("b.scenario", "connect a\nawait-end a\n")
	write("a.scenario", "name: first\nconnect a\nawait-end a\n")
	write("notes.txt", "not a scenario\n")
	fs, err := parity.LoadScenarios(dir)
	require.NoError(t, err)
	require.Len(t, fs, 2)
	assert.Equal(t, "first", fs[0].Name)
	assert.Equal(t, "b", fs[1].Name)
	assert.Equal(t, filepath.Join(dir, "b.scenario"), fs[1].Source)

	write("c.scenario", "name: b\nconnect a\n")
	_, err = parity.LoadScenarios(dir)
	assert.EqualError(t, err, filepath.Join(dir, "c.scenario")+`: scenario name "b" is also `+filepath.Join(dir, "b.scenario")+"'s")

	write("c.scenario", "connect a\nconnect a\n")
	_, err = parity.LoadScenarios(dir)
	assert.EqualError(t, err, filepath.Join(dir, "c.scenario")+":2: connection a connected twice (first at line 1)")

	_, err = parity.LoadScenarios(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestScenarioFileFormatIsStable: printing is byte for byte what the README shows.
func TestScenarioFileFormatIsStable(t *testing.T) {
	f, err := parity.ParseScenario("x.scenario", []byte("# Why.\nname: x\nconnect a\nsend a \"é\\x00\"\nwatch a 1s\nawait-end a\n"))
	require.NoError(t, err)
	want := "# Why.\nname: x\nprotocol: any\nlog: ordered\nconnect a\nsend a \"é\\x00\"\nwatch a 1s\nawait-end a\n"
	assert.Equal(t, want, string(f.Format()))
	assert.True(t, bytes.HasSuffix(f.Format(), []byte("\n")))
}
