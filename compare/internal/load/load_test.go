//go:build linux

package load

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseStraceSummary(t *testing.T) {
	const out = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 40.00    0.000400           2       200           write
 30.00    0.000300           1       201         1 accept4
  0.00    0.000000           0         3           epoll_ctl
------ ----------- ----------- --------- --------- ----------------
100.00    0.001000           2       404         1 total
`
	path := filepath.Join(t.TempDir(), "summary.txt")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := parseStraceSummary(path)
	if err != nil {
		t.Fatalf("parseStraceSummary: %v", err)
	}
	want := map[string]int{"write": 200, "accept4": 201, "epoll_ctl": 3}
	if len(got) != len(want) {
		t.Fatalf("parsed %v, want %v", got, want)
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d calls, want %d (all: %v)", name, got[name], n, got)
		}
	}
}

func TestQuantileAndMerge(t *testing.T) {
	a := Measurement{Result: Result{Conns: 3, Lat: []int64{1000, 3000, 5000}, Elapsed: time.Second}, ServerCPU: 30 * time.Microsecond}
	b := Measurement{Result: Result{Conns: 2, Lat: []int64{2000, 4000}, Elapsed: time.Second}, ServerCPU: 20 * time.Microsecond}
	m := Merge(a, b)
	if m.Conns != 5 || len(m.Lat) != 5 {
		t.Fatalf("merged %d conns, %d latencies; want 5 and 5", m.Conns, len(m.Lat))
	}
	if q := m.Quantile(0.5); q != 3*time.Microsecond {
		t.Errorf("median %v, want 3µs (latencies %v)", q, m.Lat)
	}
	if q := m.Quantile(0.99); q != 5*time.Microsecond {
		t.Errorf("p99 %v, want 5µs", q)
	}
	if got := m.ServerCPUPerConn(); got != 10*time.Microsecond {
		t.Errorf("server CPU per connection %v, want 10µs", got)
	}
	if got := m.PerSec(); got != 2.5 {
		t.Errorf("rate %v per second, want 2.5", got)
	}
}
