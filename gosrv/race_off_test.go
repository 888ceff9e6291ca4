//go:build linux && !race

package gosrv

const raceEnabled = false
