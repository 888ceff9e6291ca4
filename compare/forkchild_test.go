//go:build linux

package compare

// forkchild_test.go - the fork model's children under signals, on the standalone servers, C
// against Go (the contract: a child is a fork, with a memory of its own, and starts with the
// default disposition of every signal the parent handles; a signal to one child ends that
// child only, which dies of it silently, and the parent reaps it and serves on; Ctrl-C to the
// process group ends every child and the parent, which prints its final line and exits 0;
// never a zombie).
//
// The server runs as the leader of its own process group, so that the group can be
// signalled as a terminal does. The parent is held with SIGSTOP while its children die, so
// each dead child stays a zombie long enough to read how it died from /proc (the wait
// status it leaves for its parent); resumed, the parent must reap it. This test process is
// a child subreaper meanwhile: a child that the server leaves behind when it exits becomes
// this process's child instead of init's, and the baseline check finds it.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/iomodels/iomodels/compare/internal/engine"
	"github.com/iomodels/iomodels/compare/internal/enginetest"
	"github.com/iomodels/iomodels/compare/internal/standalone"
	"github.com/iomodels/iomodels/internal/procfs"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// groupImpl is s.impl() with the server leading a process group of its own.
func (s side) groupImpl() engine.Impl {
	return engine.Impl{Name: s.name, Start: func(model string) (engine.Target, error) {
		p, err := standalone.Start([]string{s.server, model, "0"}, standalone.Options{Group: true}, processTimeout)
		if err != nil {
			return nil, err
		}
		return engine.Process{Proc: p}, nil
	}}
}

// serverSocketInode is the inode of the server's end of a loopback connection (local port
// serverPort, remote port clientPort), from /proc/net/tcp; 0 if there is none.
func serverSocketInode(serverPort, clientPort int) (uint64, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[0] == "sl" {
			continue
		}
		port := func(addr string) int {
			i := strings.IndexByte(addr, ':')
			p, _ := strconv.ParseUint(addr[i+1:], 16, 16)
			return int(p)
		}
		if port(fields[1]) == serverPort && port(fields[2]) == clientPort {
			return strconv.ParseUint(fields[9], 10, 64)
		}
	}
	return 0, sc.Err()
}

// findChild waits until a child of the server holds connection name's socket, and it alone
// (the parent has closed its copy), and stores the child's pid in *pid.
func findChild(name string, pid *int) engine.Step {
	return engine.Step{Desc: "find the child serving " + name, Do: func(r *engine.Run) error {
		c, err := r.Conn(name)
		if err != nil {
			return err
		}
		server, err := r.ServerPid()
		if err != nil {
			return err
		}
		return r.WaitFor("a child of the server holding "+name+"'s socket", func() bool {
			inode, err := serverSocketInode(r.Target().Port(), c.Port())
			if err != nil || inode == 0 || procfs.HoldsSocket(server, inode) {
				return false
			}
			for _, child := range procfs.ThreadChildren(server) {
				if procfs.HoldsSocket(child, inode) {
					*pid = child
					return true
				}
			}
			return false
		})
	}}
}

// killChild sends sig to the child found for name.
func killChild(name string, pid *int, sig syscall.Signal) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("send %v to the child serving %s", sig, name), Do: func(r *engine.Run) error {
		return os.NewSyscallError("kill", unix.Kill(*pid, sig))
	}}
}

// signalGroup sends sig to the server's process group, as Ctrl-C in its terminal would.
func signalGroup(sig syscall.Signal) engine.Step {
	return engine.Step{Desc: fmt.Sprintf("send %v to the server's process group", sig), Do: func(r *engine.Run) error {
		server, err := r.ServerPid()
		if err != nil {
			return err
		}
		return os.NewSyscallError("kill", unix.Kill(-server, sig))
	}}
}

// procStat is the fields of /proc/pid/stat after the command name: [0] is the state (field
// 3), [49] the exit code (field 52, the wait status the process leaves for its parent).
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// kcmpVM is KCMP_VM of linux/kcmp.h: kcmp(2) compares two processes' address spaces.
const kcmpVM = 1

// noteMemory notes whether the child found for name has an address space of its own, as a
// forked process has, or shares the server's (a clone with CLONE_VM): kcmp(2) returns 0
// when two processes have the same one.
func noteMemory(name string, pid *int) engine.Step {
	return engine.Step{Desc: "compare the address spaces of the server and the child serving " + name, Do: func(r *engine.Run) error {
		server, err := r.ServerPid()
		if err != nil {
			return err
		}
		same, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(server), uintptr(*pid), kcmpVM, 0, 0, 0)
		if errno != 0 {
			return os.NewSyscallError("kcmp", errno)
		}
		if same == 0 {
			r.Note("child of %s: shares the server's memory", name)
		} else {
			r.Note("child of %s: a memory of its own", name)
		}
		return nil
	}}
}

// awaitZombie waits until the child found for name is a zombie (the parent is stopped, so
// it cannot reap it) and notes how it died.
func awaitZombie(name string, pid *int) engine.Step {
	return engine.Step{Desc: "wait for the child serving " + name + " to be a zombie", Do: func(r *engine.Run) error {
		var fields []string
		if err := r.WaitFor("the child serving "+name+" dead", func() bool {
			f, err := procStat(*pid)
			fields = f
			return err == nil && len(f) > 49 && f[0] == "Z"
		}); err != nil {
			return fmt.Errorf("%w (stat %q)", err, fields)
		}
		code, err := strconv.Atoi(fields[49])
		if err != nil {
			return err
		}
		r.Note("child of %s: %s", name, standalone.WaitStatus(syscall.WaitStatus(code)))
		return nil
	}}
}

// awaitReaped waits until the child found for name is gone from /proc: its parent waited
// for it (this process, a subreaper, never does).
func awaitReaped(name string, pid *int) engine.Step {
	return engine.Step{Desc: "wait for the child serving " + name + " to be reaped", Do: func(r *engine.Run) error {
		if err := r.WaitFor("the child serving "+name+" reaped", func() bool {
			_, err := os.Stat(fmt.Sprintf("/proc/%d", *pid))
			return errors.Is(err, os.ErrNotExist)
		}); err != nil {
			st, _ := procStat(*pid)
			return fmt.Errorf("%w (a zombie left behind? stat %q)", err, st)
		}
		r.Note("child of %s: reaped", name)
		return nil
	}}
}

// awaitChildrenReaped waits until the server has no child process left, zombie or not: it
// has reaped every one (for every model but fork, at once).
func awaitChildrenReaped() engine.Step {
	return engine.Step{Desc: "wait until the server has reaped its children", Do: func(r *engine.Run) error {
		server, err := r.ServerPid()
		if err != nil {
			return err
		}
		return r.WaitFor("the server's children reaped", func() bool { return len(procfs.ThreadChildren(server)) == 0 })
	}}
}

// awaitServerExit waits for the server to exit by itself; its status is the exit code.
func awaitServerExit() engine.Step {
	return engine.Step{Desc: "wait for the server to exit", Do: func(r *engine.Run) error {
		p, ok := r.Target().(engine.Process)
		if !ok {
			return errors.New("target is not a process")
		}
		status, err := p.Proc.Wait(processTimeout)
		r.Ended(status)
		return err
	}}
}

// forkChildScenarios are the contract's fork-child cases.
func forkChildScenarios() []engine.Scenario {
	hello, later := []byte("after the kill"), []byte("a new client")
	var out []engine.Scenario
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1} {
		// Two clients wait in their children; one child is killed while the parent is
		// held: that child dies of the signal (the stop handler of the parent is not its),
		// its client sees end of file; the parent, resumed, reaps it and serves on: the
		// other child answers, a new client is served, and the stop is the usual SIGTERM.
		name := strings.ToLower(standalone.SignalName(sig))
		out = append(out, engine.Scenario{
			Name:    "fork-kill-one-child-" + name,
			Models:  only("fork"),
			Process: true,
			Steps: func(string) []engine.Step {
				var pa, pb int
				return engine.Seq(engine.Connect("a"), engine.Connect("b"), engine.AwaitStdoutLines(2), findChild("a", &pa), findChild("b", &pb),
					pauseServer(), killChild("a", &pa, sig), engine.AwaitEnd("a"), awaitZombie("a", &pa),
					resumeServer(), awaitReaped("a", &pa),
					engine.Send("b", hello), engine.HalfClose("b"), engine.AwaitEnd("b"), awaitReaped("b", &pb),
					engine.Client("c", later))
			},
			Expect: func(_ string, tr *engine.Transcript) error {
				want := []string{"child of a: killed by " + standalone.SignalName(sig), "child of a: reaped", "child of b: reaped"}
				if strings.Join(tr.Notes, "\n") != strings.Join(want, "\n") {
					return fmt.Errorf("want notes %q, got %q", want, tr.Notes)
				}
				if a, _ := tr.Conn("a"); len(a.Data) != 0 || a.End != "EOF" {
					return fmt.Errorf("a (its child killed) got %d bytes, %s; want 0, EOF", len(a.Data), a.End)
				}
				for name, msg := range map[string][]byte{"b": hello, "c": later} {
					if c, _ := tr.Conn(name); string(c.Data) != string(msg) || c.End != "EOF" {
						return fmt.Errorf("%s got %q, %s; want its echo, EOF", name, c.Data, c.End)
					}
				}
				wantOut := "new conn(127.0.0.1:<a>)\nnew conn(127.0.0.1:<b>)\nrecv_msg: after the kill\n" +
					"new conn(127.0.0.1:<c>)\nrecv_msg: a new client\n"
				if tr.Stdout != wantOut {
					return fmt.Errorf("want stdout %q, got %q", wantOut, tr.Stdout)
				}
				return wantStopLine(tr, "SIGTERM(15)")
			},
		})
	}
	// Signal 33, which both servers ignore (CONTRACT.md § Faults), is ignored by a child
	// too: the child serves on as if nothing had been sent.
	out = append(out, engine.Scenario{
		Name:    "fork-child-ignores-signal-33",
		Models:  only("fork"),
		Process: true,
		Steps: func(string) []engine.Step {
			var pa int
			return engine.Seq(engine.Connect("a"), engine.AwaitStdoutLines(1), findChild("a", &pa), killChild("a", &pa, 33),
				engine.Send("a", hello), engine.HalfClose("a"), engine.AwaitEnd("a"), awaitReaped("a", &pa))
		},
		Expect: func(_ string, tr *engine.Transcript) error {
			if a, _ := tr.Conn("a"); string(a.Data) != string(hello) || a.End != "EOF" {
				return fmt.Errorf("a got %q, %s; want its echo, EOF", a.Data, a.End)
			}
			if strings.Join(tr.Notes, "\n") != "child of a: reaped" {
				return fmt.Errorf("want the note that a's child was reaped, got %q", tr.Notes)
			}
			return wantStopLine(tr, "SIGTERM(15)")
		},
	})
	// The child is a fork: a copy of the server's memory, not the server's memory itself.
	// The client waits in its child while the two address spaces are compared, then is served.
	out = append(out, engine.Scenario{
		Name:    "fork-child-own-memory",
		Models:  only("fork"),
		Process: true,
		Steps: func(string) []engine.Step {
			var pa int
			return engine.Seq(engine.Connect("a"), engine.AwaitStdoutLines(1), findChild("a", &pa), noteMemory("a", &pa),
				engine.Send("a", hello), engine.HalfClose("a"), engine.AwaitEnd("a"), awaitReaped("a", &pa))
		},
		Expect: func(_ string, tr *engine.Transcript) error {
			want := []string{"child of a: a memory of its own", "child of a: reaped"}
			if strings.Join(tr.Notes, "\n") != strings.Join(want, "\n") {
				return fmt.Errorf("want notes %q, got %q", want, tr.Notes)
			}
			if a, _ := tr.Conn("a"); string(a.Data) != string(hello) || a.End != "EOF" {
				return fmt.Errorf("a got %q, %s; want its echo, EOF", a.Data, a.End)
			}
			return wantStopLine(tr, "SIGTERM(15)")
		},
	})
	// Ctrl-C: SIGINT to the whole group, while two clients wait in their children and the
	// parent is held. Each child dies of SIGINT; the parent, resumed, stops on it, reaps
	// both, prints its final line and exits 0.
	out = append(out, engine.Scenario{
		Name:    "fork-group-sigint",
		Models:  only("fork"),
		Process: true,
		Steps: func(string) []engine.Step {
			var pa, pb int
			return engine.Seq(engine.Connect("a"), engine.Connect("b"), engine.AwaitStdoutLines(2), findChild("a", &pa), findChild("b", &pb),
				pauseServer(), signalGroup(syscall.SIGINT), engine.AwaitEnd("a"), engine.AwaitEnd("b"),
				awaitZombie("a", &pa), awaitZombie("b", &pb), resumeServer(), awaitServerExit(),
				awaitReaped("a", &pa), awaitReaped("b", &pb))
		},
		Expect: func(_ string, tr *engine.Transcript) error {
			want := []string{"child of a: killed by SIGINT", "child of b: killed by SIGINT", "child of a: reaped", "child of b: reaped"}
			if strings.Join(tr.Notes, "\n") != strings.Join(want, "\n") {
				return fmt.Errorf("want notes %q, got %q", want, tr.Notes)
			}
			for _, name := range []string{"a", "b"} {
				if c, _ := tr.Conn(name); len(c.Data) != 0 || c.End != "EOF" {
					return fmt.Errorf("%s got %d bytes, %s; want 0, EOF", name, len(c.Data), c.End)
				}
			}
			if tr.Stdout != "new conn(127.0.0.1:<a>)\nnew conn(127.0.0.1:<b>)\n" {
				return fmt.Errorf("want only the two new conn lines, got %q", tr.Stdout)
			}
			return wantStopLine(tr, "SIGINT(2)")
		},
	})
	return out
}

// wantStopLine: exit 0, and stderr is "listening on" and the final line naming sig, nothing
// else (a child dies silently).
func wantStopLine(tr *engine.Transcript, sig string) error {
	want := "listening on 0.0.0.0:PORT\nsignal: " + sig + "   close server ... done\n"
	if tr.Status != "exited 0" || tr.Stderr != want {
		return fmt.Errorf("want stderr %q and exited 0, got %q, %s", want, tr.Stderr, tr.Status)
	}
	return nil
}

// TestForkChild runs the fork-child scenarios against the two standalone servers, C (twice)
// against Go, with this process a child subreaper, so that no child of the server can
// escape the check for zombies by being reparented to init.
func TestForkChild(t *testing.T) {
	c, g := sides(t)
	require.NoError(t, unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "becoming a child subreaper")
	t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	for _, sc := range forkChildScenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			base := takeBaseline()
			enginetest.Compare(t, sc, "fork", c.groupImpl(), g.groupImpl())
			base.check(t)
		})
	}
}
