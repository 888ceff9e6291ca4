//go:build linux && cgo

package native_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iomodels/iomodels/internal/proctest"
	"github.com/iomodels/iomodels/native"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echo sends msg on a new connection to port and returns the reply, the local address and
// whether the server ended the reply with end of file. The whole exchange has a deadline.
func echo(port int, msg string) (reply string, local string, err error) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", "", err
	}
	if _, err := conn.Write([]byte(msg)); err != nil {
		return "", "", err
	}
	b, err := io.ReadAll(conn) // the one-shot models half-close after the reply
	return string(b), conn.LocalAddr().String(), err
}

func TestModelsTable(t *testing.T) {
	names := native.Models()
	require.GreaterOrEqual(t, len(names), 4, "csrc/models.c lists at least the four seed models")
	assert.Equal(t, []string{"iterative", "fork", "epoll-lt", "epoll-et"}, names[:4], "SPEC order")
	for _, n := range names {
		assert.NotEmpty(t, native.IOModel(n), "model %s has an I/O-model description", n)
	}
	assert.Empty(t, native.IOModel("no-such-model"), "unknown model has no description")
	_, err := native.Start("no-such-model")
	assert.ErrorContains(t, err, "unknown model", "Start of an unknown model fails")
}

// TestStartEchoStop runs one echo through every one-shot model and checks both logs.
func TestStartEchoStop(t *testing.T) {
	for _, model := range native.Models() {
		if model == "epoll-et" {
			continue // stream protocol: covered by the leak test's own client
		}
		t.Run(model, func(t *testing.T) {
			s, err := native.Start(model)
			require.NoError(t, err, "Start")
			t.Cleanup(func() { s.Stop() })
			require.NotZero(t, s.Port(), "port")

			reply, local, err := echo(s.Port(), "hello")
			require.NoError(t, err, "echo exchange")
			assert.Equal(t, "hello", reply, "echo reply")

			status, err := s.Stop()
			require.NoError(t, err, "Stop")
			assert.Equal(t, 0, status, "serve status")
			assert.Equal(t, fmt.Sprintf("listening on 0.0.0.0:%d\n", s.Port()), string(s.Stderr()), "stderr")
			conn := "new conn " + local
			if model == "iterative" || model == "fork" {
				conn = "new conn(" + local + ")"
			}
			assert.Equal(t, conn+"\nrecv_msg: hello\n", string(s.Stdout()), "stdout")
			assert.False(t, strings.Contains(string(s.Stderr()), "error"), "no error logged")
		})
	}
}

// TestStartFailure makes open_listener fail (no descriptor left for its socket) and requires
// that Start returns the line the C side logged, and closes what it had opened.
func TestStartFailure(t *testing.T) {
	warm, err := native.Start("iterative") // the runtime's poller exists before the count
	require.NoError(t, err, "warm-up Start")
	_, err = warm.Stop()
	require.NoError(t, err, "warm-up Stop")
	fds := proctest.Fds()

	// Start needs five descriptors before the socket: two pipes and the eventfd.
	var startErr error
	require.NoError(t, proctest.WithFreeFds(5, func() { _, startErr = native.Start("iterative") }), "lower RLIMIT_NOFILE")
	require.Error(t, startErr, "Start without a descriptor for the socket")
	assert.Contains(t, startErr.Error(), "create_listenfd error: Too many open files", "the logged line is in the error")
	assert.Equal(t, fds, proctest.Fds(), "descriptors after the failed Start")
}
