//go:build failpoints

package store

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// envFailpoint reads ENMASSE_STORE_FAILPOINTS, a comma-separated list of
// name=action where action is
//
//	kill     SIGKILL this process at the failpoint (a crash)
//	kill@N   the same at the Nth time the failpoint is reached
//	error    return an injected error there
//
// for example "store/compactBeforeRemove=kill". Crash tests build a
// helper with -tags failpoints; production builds have no failpoints.
func envFailpoint() func(string) error {
	spec := os.Getenv("ENMASSE_STORE_FAILPOINTS")
	if spec == "" {
		return nil
	}
	type point struct {
		action string
		at     int
	}
	points := map[string]*point{}
	for _, item := range strings.Split(spec, ",") {
		name, action, _ := strings.Cut(item, "=")
		p := &point{action: action, at: 1}
		if a, n, ok := strings.Cut(action, "@"); ok {
			p.action = a
			p.at, _ = strconv.Atoi(n)
		}
		points[name] = p
	}
	var mu sync.Mutex
	hits := map[string]int{}
	return func(name string) error {
		p := points[name]
		if p == nil {
			return nil
		}
		mu.Lock()
		hits[name]++
		n := hits[name]
		mu.Unlock()
		switch {
		case p.action == "error":
			return errors.New("injected failure at " + name)
		case p.action == "kill" && n >= p.at:
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	}
}
