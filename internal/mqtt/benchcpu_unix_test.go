//go:build unix

package mqtt

import (
	"syscall"
	"time"
)

// cpuTime is the process's user and system CPU time so far. The gateway
// benchmarks report it per op (cpu-ns/op, client and server together):
// it leaves out the time other work holds the cores, which wall time does
// not (caches and frequency still vary with the load).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
