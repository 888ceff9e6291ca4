//go:build linux && cgo

package native

// ServeTid is the thread that ran serve_X; valid once Stop has returned.
func (s *Server) ServeTid() int { return s.tid }
