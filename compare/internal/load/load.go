//go:build linux

// Package load drives the standalone servers with traffic and measures them: a load
// generator on raw system calls, latency statistics, CPU accounting from /proc, system
// call counts from strace, and the seed's own process-per-request benchmark.
//
// The generator must not be the ceiling. A client written with the net package spends
// 80-130 µs of CPU per connection here (goroutine parking, the netpoller, allocation),
// more than the servers it measures. So each worker is a goroutine locked to its own OS
// thread (runtime.LockOSThread) making blocking system calls from golang.org/x/sys/unix,
// with GOMAXPROCS raised above the number of workers so that a thread coming back from a
// blocking recv finds its P still idle (exitsyscall's fast path) instead of queueing for
// one. Latencies go into one slice allocated before the run; a connection allocates
// nothing. The generator's own CPU is measured per thread (getrusage RUSAGE_THREAD) and
// reported next to the server's, so a reader can see when it was the bottleneck.
package load

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Runner is a load: OneShot or Stream.
type Runner interface {
	Run() (Result, error)
}

// OneShot describes a run of the one-shot protocol: Workers clients in parallel, each
// repeating connect, send Msg, shutdown(SHUT_WR), recv until end of stream, close.
// The run stops after Conns connections or after Duration, whichever comes first.
type OneShot struct {
	Port     int
	Workers  int
	Conns    int           // upper bound on connections; sizes the latency slice
	Duration time.Duration // 0: run until Conns connections
	Msg      []byte
	// Timeout bounds every blocking call of a connection (SO_RCVTIMEO/SO_SNDTIMEO), so
	// a server that stops answering ends the run with errors instead of hanging it.
	Timeout time.Duration
}

// Result is what a run measured.
type Result struct {
	Conns     int           // connections completed (reply read to end of stream)
	Errors    int           // connections that failed
	FirstErr  error         // the first failure, for the message
	Elapsed   time.Duration // wall time of the whole run
	Lat       []int64       // per completed connection, connect to end of stream, ns, sorted
	ClientCPU time.Duration // user+system CPU of the generator's worker threads
	Bytes     int64         // payload bytes echoed (stream runs)
}

// PerSec is completed connections (or chunks, for a stream run) per second of wall time.
func (r Result) PerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Conns) / r.Elapsed.Seconds()
}

// Quantile is the q-quantile (0..1) of the latencies, nearest rank.
func (r Result) Quantile(q float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Lat))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(r.Lat) {
		i = len(r.Lat) - 1
	}
	return time.Duration(r.Lat[i])
}

// ClientCPUPerConn is the generator's CPU per completed connection.
func (r Result) ClientCPUPerConn() time.Duration {
	if r.Conns == 0 {
		return 0
	}
	return r.ClientCPU / time.Duration(r.Conns)
}

// maxErrors stops a run whose server has gone away instead of counting failures forever.
const maxErrors = 100

// raiseProcs gives every locked worker thread its own P (and two to spare for the rest of
// the process), and returns the function that puts the old value back.
func raiseProcs(workers int) func() {
	old := runtime.GOMAXPROCS(0)
	if workers+2 > old {
		runtime.GOMAXPROCS(workers + 2)
	}
	return func() { runtime.GOMAXPROCS(old) }
}

// threadCPU is the calling thread's user+system CPU time.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// workers runs work(0) … work(n-1) at once, each on a goroutine locked to its own thread,
// and returns when all have: the time they took and the CPU their threads used.
func workers(n int, work func(w int)) (elapsed, cpu time.Duration) {
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			defer func() { total.Add(int64(threadCPU() - cpu0)) }()
			work(w)
		}()
	}
	wg.Wait()
	return time.Since(start), time.Duration(total.Load())
}

// Run makes the one-shot connections and measures them.
func (cfg OneShot) Run() (Result, error) {
	if cfg.Workers < 1 || cfg.Conns < 1 {
		return Result{}, fmt.Errorf("load: need at least one worker and one connection")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	defer raiseProcs(cfg.Workers)()

	lat := make([]int64, cfg.Conns) // -1 marks a failed connection
	var next, nerr atomic.Int64
	var firstErr atomic.Pointer[error]
	tv := unix.NsecToTimeval(cfg.Timeout.Nanoseconds())

	deadline := time.Now().Add(cfg.Duration)
	elapsed, cpu := workers(cfg.Workers, func(int) {
		buf := make([]byte, 4096)
		// Each worker its own address: Connect writes the kernel's form into it.
		sa := &unix.SockaddrInet4{Port: cfg.Port, Addr: [4]byte{127, 0, 0, 1}}
		for nerr.Load() < maxErrors {
			i := next.Add(1) - 1
			if i >= int64(cfg.Conns) {
				break
			}
			t0 := time.Now()
			if cfg.Duration > 0 && t0.After(deadline) {
				lat[i] = -1
				next.Store(int64(cfg.Conns)) // no other worker starts one either
				break
			}
			if _, err := oneConn(sa, &tv, cfg.Msg, buf); err != nil {
				lat[i] = -1
				if nerr.Add(1) == 1 {
					firstErr.Store(&err)
				}
				continue
			}
			lat[i] = time.Since(t0).Nanoseconds()
		}
	})

	r := Result{Elapsed: elapsed, ClientCPU: cpu}
	n := min(next.Load(), int64(cfg.Conns))
	kept := lat[:0]
	for _, l := range lat[:n] {
		if l > 0 {
			kept = append(kept, l)
		}
	}
	sort.Slice(kept, func(a, b int) bool { return kept[a] < kept[b] })
	r.Lat, r.Conns, r.Errors = kept, len(kept), int(nerr.Load())
	if p := firstErr.Load(); p != nil {
		r.FirstErr = *p
	}
	if r.Conns == 0 {
		return r, fmt.Errorf("load: no connection completed: %v", r.FirstErr)
	}
	return r, nil
}

// oneConn is one connection of the one-shot protocol. It returns the bytes read back
// (into buf, which it does not grow: a longer reply is counted, not kept).
func oneConn(sa *unix.SockaddrInet4, tv *unix.Timeval, msg, buf []byte) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if tv != nil {
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, tv)
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, tv)
	}
	if err := retry(func() error { return unix.Connect(fd, sa) }); err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	for sent := 0; sent < len(msg); {
		n, err := unix.SendmsgN(fd, msg[sent:], nil, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("send: %w", err)
		}
		sent += n
	}
	// A server that already reset the connection (it closed with bytes unread, as a
	// one-shot server does with a 513-byte message) makes shutdown fail with ENOTCONN;
	// what it sent before the reset is still there to read, and the read reports the reset.
	if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil && err != unix.ENOTCONN {
		return 0, fmt.Errorf("shutdown: %w", err)
	}
	got := 0
	for {
		off := got
		if off >= len(buf) { // a reply longer than buf: count it, overwrite the start
			off = 0
		}
		n, err := unix.Read(fd, buf[off:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return got, fmt.Errorf("recv: %w", err)
		}
		if n == 0 {
			return got, nil
		}
		got += n
	}
}

func retry(call func() error) error {
	for {
		if err := call(); err != unix.EINTR {
			return err
		}
	}
}

// ErrMismatch is a stream echo that came back different from what was sent.
var ErrMismatch = errors.New("echo differs from what was sent")
