//go:build linux

package gosrv

// ServeTid is the thread that ran Serve; valid once Stop has returned.
func (s *Running) ServeTid() int { return s.tid }
