//go:build linux

package load

import (
	"bytes"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Stream describes a run of the stream protocol (epoll-et): Conns connections stay open,
// and Chunks chunks of Chunk bytes are echoed in all, spread over them; every chunk is sent
// and read back in full before its connection sends the next. Each connection has its own
// locked thread, and sends and receives at once (non-blocking socket, poll), because a
// client that only sends while the server's echo fills the way back would deadlock both.
type Stream struct {
	Port    int
	Conns   int
	Chunk   int
	Chunks  int
	Timeout time.Duration // bounds each wait in poll
}

// Run opens the connections, echoes the chunks, closes the connections (shutdown, read to
// end of stream) and measures the echoing part. Result.Conns counts chunks.
func (cfg Stream) Run() (Result, error) {
	if cfg.Conns < 1 || cfg.Chunk < 1 || cfg.Chunks < 1 {
		return Result{}, fmt.Errorf("load: stream needs connections, a chunk size and chunks")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	defer raiseProcs(cfg.Conns)()

	sa := &unix.SockaddrInet4{Port: cfg.Port, Addr: [4]byte{127, 0, 0, 1}}
	fds := make([]int, 0, cfg.Conns)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for i := 0; i < cfg.Conns; i++ {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return Result{}, fmt.Errorf("socket: %w", err)
		}
		fds = append(fds, fd)
		if err := retry(func() error { return unix.Connect(fd, sa) }); err != nil {
			return Result{}, fmt.Errorf("connect: %w", err)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			return Result{}, fmt.Errorf("set nonblock: %w", err)
		}
	}

	payload := make([]byte, cfg.Chunk)
	for i := range payload {
		payload[i] = byte(i*7 + i>>8) // not a repeating short pattern: a reordered echo shows
	}
	lat := make([]int64, cfg.Chunks)
	var next atomic.Int64
	var failed atomic.Pointer[error]
	elapsed, cpu := workers(len(fds), func(w int) {
		fd := fds[w]
		back := make([]byte, cfg.Chunk)
		for failed.Load() == nil {
			i := next.Add(1) - 1
			if i >= int64(cfg.Chunks) {
				return
			}
			t0 := time.Now()
			if err := echoChunk(fd, payload, back, cfg.Timeout); err != nil {
				failed.CompareAndSwap(nil, &err)
				return
			}
			lat[i] = time.Since(t0).Nanoseconds()
		}
	})
	if p := failed.Load(); p != nil {
		return Result{}, *p
	}
	// End every stream as the protocol does: half-close, read the server's end of stream.
	for _, fd := range fds {
		unix.Shutdown(fd, unix.SHUT_WR)
		if err := drainToEOF(fd, cfg.Timeout); err != nil {
			return Result{}, err
		}
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	return Result{
		Conns:     cfg.Chunks,
		Elapsed:   elapsed,
		Lat:       lat,
		ClientCPU: cpu,
		Bytes:     int64(cfg.Chunks) * int64(cfg.Chunk),
	}, nil
}

// echoChunk sends payload and reads it back on a non-blocking fd, waiting in poll for
// whichever direction can move.
func echoChunk(fd int, payload, back []byte, timeout time.Duration) error {
	sent, got := 0, 0
	pfd := []unix.PollFd{{Fd: int32(fd)}}
	for got < len(payload) {
		progress := false
		if sent < len(payload) {
			n, err := unix.SendmsgN(fd, payload[sent:], nil, nil, unix.MSG_NOSIGNAL)
			switch {
			case err == nil:
				sent += n
				progress = true
			case err != unix.EAGAIN && err != unix.EINTR:
				return fmt.Errorf("send: %w", err)
			}
		}
		n, err := unix.Read(fd, back[got:])
		switch {
		case err == nil && n == 0:
			return fmt.Errorf("recv: end of stream after %d of %d bytes", got, len(payload))
		case err == nil:
			got += n
			progress = true
		case err != unix.EAGAIN && err != unix.EINTR:
			return fmt.Errorf("recv: %w", err)
		}
		if progress {
			continue
		}
		pfd[0].Events = unix.POLLIN
		if sent < len(payload) {
			pfd[0].Events |= unix.POLLOUT
		}
		n, err = unix.Poll(pfd, int(timeout.Milliseconds()))
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("poll: %w", err)
		}
		if err == nil && n == 0 {
			return fmt.Errorf("echo stalled: %d of %d bytes back after %v", got, len(payload), timeout)
		}
	}
	if !bytes.Equal(back, payload) {
		return ErrMismatch
	}
	return nil
}

func drainToEOF(fd int, timeout time.Duration) error {
	buf := make([]byte, 4096)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		n, err := unix.Read(fd, buf)
		if err == nil && n == 0 {
			return nil
		}
		if err == unix.EAGAIN {
			unix.Poll(pfd, int(time.Until(deadline).Milliseconds())+1)
			continue
		}
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("recv at close: %w", err)
		}
	}
	return fmt.Errorf("no end of stream within %v", timeout)
}
