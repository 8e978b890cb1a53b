//go:build race

package store

// raceEnabled: the race detector slows I/O-heavy loops and changes heap
// numbers.
const raceEnabled = true
