//go:build linux

package procfs

import (
	"github.com/iomodels/iomodels/internal/ciskip"
	"net"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestProcessCPU(t *testing.T) {
	c, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatalf("ProcessCPU(self): %v", err)
	}
	if c.Self <= 0 {
		t.Errorf("own CPU %v, want > 0", c.Self)
	}
	if c.Self+ClockTick < c.StatSelf-ClockTick {
		t.Errorf("process clock %v is behind /proc/self/stat's %v by more than a tick", c.Self, c.StatSelf)
	}
	if _, err := ProcessCPU(-1); err == nil {
		t.Errorf("ProcessCPU(-1) read something")
	}
}

// TestCounts opens a descriptor and starts a child, and checks that each reader sees them.
func TestCounts(t *testing.T) {
	self := os.Getpid()
	fds, conns := Fds(self), ConnFds(self)
	if fds < 3 || Threads(self) < 1 {
		t.Fatalf("self: %d descriptors, %d threads", fds, Threads(self))
	}
	free, err := FreeFdsBelow(self, 1024)
	if err != nil {
		t.Fatalf("FreeFdsBelow: %v", err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := Fds(self); got != fds+1 {
		t.Errorf("Fds after an open: %d, want %d", got, fds+1)
	}
	if got, _ := FreeFdsBelow(self, 1024); got != free-1 {
		t.Errorf("FreeFdsBelow after an open: %d, want %d", got, free-1)
	}
	if got := ConnFds(self); got != conns {
		t.Errorf("ConnFds counted a file: %d, want %d", got, conns)
	}

	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		ciskip.Skipf(t, ciskip.Because, "no sleep(1): %v", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	kids, err := Children(self)
	if err != nil || len(kids) != 1 || kids[0].Pid != cmd.Process.Pid {
		t.Errorf("Children: %v, %v; want the one child %d", kids, err, cmd.Process.Pid)
	}
	cmd.Process.Signal(syscall.SIGSTOP)
	deadline := time.Now().Add(5 * time.Second)
	for !AllStopped(cmd.Process.Pid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !AllStopped(cmd.Process.Pid) {
		t.Errorf("the child is not stopped after SIGSTOP")
	}
}

// has is whether ls holds a listener on port.
func has(ls []listener, port int) bool {
	for _, l := range ls {
		if l.port == port {
			return true
		}
	}
	return false
}

// TestListening: a listener is seen on its port, IPv4 and IPv6, by sock_diag and by the
// /proc tcp tables alike, and not once closed.
func TestListening(t *testing.T) {
	for network, addr := range map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::]:0"} {
		l, err := net.Listen(network, addr)
		if err != nil {
			t.Logf("%s: %v (skipped)", network, err)
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		diag, err := diagListeners()
		if err != nil {
			t.Fatalf("sock_diag: %v", err)
		}
		if !has(diag, port) || !has(tableListeners("/proc/net/tcp", "/proc/net/tcp6"), port) || !Listening(os.Getpid(), port) {
			t.Errorf("%s: port %d listens, not seen", network, port)
		}
		l.Close()
		if Listening(os.Getpid(), port) {
			t.Errorf("%s: port %d closed, still seen listening", network, port)
		}
	}
}

// TestListeningPort: this process's own listener is found by its descriptor's inode, as
// sock_diag and the tcp table both say.
func TestListeningPort(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if got := ListeningPort(os.Getpid()); got != port {
		t.Errorf("ListeningPort = %d, want %d", got, port)
	}
	// The tables name the same socket (by inode) as sock_diag does.
	diag, err := diagListeners()
	if err != nil {
		t.Fatalf("sock_diag: %v", err)
	}
	for _, d := range diag {
		if d.port == port && !slices.Contains(tableListeners("/proc/net/tcp"), d) {
			t.Errorf("listener %+v in sock_diag's answer, not in /proc/net/tcp", d)
		}
	}
	if !sameNetns(os.Getpid()) {
		t.Errorf("this process is not in its own network namespace")
	}
}

// TestListeningWhose: a listener counts for the process that holds it and for the
// processes above it (a wrapper), not for another process: a port taken by someone else
// does not make a server that never listens look ready.
func TestListeningWhose(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	other := exec.Command("sleep", "10") // holds nothing of ours
	holder := exec.Command("sleep", "10")
	holder.ExtraFiles = []*os.File{f} // holds the listener, as a server behind a wrapper would
	for _, c := range []*exec.Cmd{other, holder} {
		if err := c.Start(); err != nil {
			ciskip.Skipf(t, ciskip.Because, "no sleep(1): %v", err)
		}
		defer c.Wait()
		defer c.Process.Kill()
	}
	f.Close()
	if !Listening(holder.Process.Pid, port) {
		t.Errorf("the holder of port %d's listener is not seen listening", port)
	}
	if Listening(other.Process.Pid, port) {
		t.Errorf("a process that holds nothing is seen listening on port %d", port)
	}
	l.Close() // now only the holder, this process's child, has it
	if !Listening(os.Getpid(), port) {
		t.Errorf("a child's listener on port %d does not count for its parent", port)
	}
}
