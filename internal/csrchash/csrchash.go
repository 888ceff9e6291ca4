// Package csrchash sums the C sources that native/ compiles through #include: the Go build
// cache keys a cgo package on the files in its own folder, so a change in csrc/ alone
// would leave a stale build of the C reference in the cache. native/ keeps the sum of the
// csrc/ it was generated from (native/csrc_hash.go, `go generate ./native`), and a test
// fails when the two differ.
package csrchash

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Sum is the SHA-256 of every .c and .h file in dir, by name, in name order.
func Sum(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".c") || strings.HasSuffix(n, ".h")) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", err
		}
		h.Write([]byte(n + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
