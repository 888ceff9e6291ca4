//go:build linux

package load

import (
	"math"
	"testing"
)

// TestSplit: the thread model's kind of difference, where C's libc makes a thread per
// connection and Go's runtime wakes and sleeps instead, is housekeeping; a protocol call
// made more often is the protocol's.
func TestSplit(t *testing.T) {
	c := Syscalls{ByName: map[string]float64{"accept4": 1, "recvfrom": 2, "clone3": 1, "madvise": 1, "rt_sigprocmask": 4}}
	g := Syscalls{ByName: map[string]float64{"accept4": 1, "recvfrom": 2.25, "futex": 3.75, "nanosleep": 0.02}}
	proto, house, by := g.Split(c)
	if math.Abs(proto-0.25) > 1e-9 || math.Abs(house-(3.75+0.02-6)) > 1e-9 {
		t.Errorf("protocol %+.2f, housekeeping %+.2f; want +0.25 and %+.2f", proto, house, 3.75+0.02-6)
	}
	want := []NameCount{{"rt_sigprocmask", -4}, {"futex", 3.75}, {"clone3", -1}, {"madvise", -1}} // nanosleep: under 0.05
	if len(by) != len(want) {
		t.Fatalf("named %v, want %v", by, want)
	}
	for i := range want {
		if by[i] != want[i] {
			t.Errorf("named %v, want %v", by, want)
			break
		}
	}
}
