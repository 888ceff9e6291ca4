//go:build linux

package report

import "testing"

func TestNormalise(t *testing.T) {
	in := "new conn(127.0.0.1:40902)\nrecv_msg: 127.0.0.1:9\n"
	want := "new conn(127.0.0.1:PEER)\nrecv_msg: 127.0.0.1:PEER\n"
	if got := normalise(in, false); got != want {
		t.Errorf("normalise(%q) = %q, want %q", in, got, want)
	}
	if got := normalise("listening on 0.0.0.0:38211\n", false); got != "listening on 0.0.0.0:PORT\n" {
		t.Errorf("listening port not replaced: %q", got)
	}
	if got := normalise("b\na", true); got != "a\nb" {
		t.Errorf("sorted lines: %q, want %q", got, "a\nb")
	}
}
