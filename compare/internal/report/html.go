//go:build linux

package report

import "io"

// WriteHTML writes the page.
func (r *Report) WriteHTML(w io.Writer) error { return nil }
