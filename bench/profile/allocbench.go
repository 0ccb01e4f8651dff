// allocbench.go — Go's figure beside allocbench.c: the same loop, with
// runtime.MemProfileRate at its default or 0 (the second argument).
//
//	allocbench alloc N SIZE RATE   RATE "default" or a number of bytes
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Every thread's CPU time (the collector's included), as allocbench.c's.
func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

const ring = 1024

type obj32 struct{ v [4]uint64 }
type obj128 struct{ v [16]uint64 }

var ring32 [ring]*obj32
var ring128 [ring]*obj128

func main() {
	if len(os.Args) < 5 || os.Args[1] != "alloc" {
		fmt.Fprintln(os.Stderr, "usage: allocbench alloc N SIZE RATE")
		os.Exit(2)
	}
	if os.Args[4] != "default" {
		r, _ := strconv.Atoi(os.Args[4])
		runtime.MemProfileRate = r
	}
	n, _ := strconv.Atoi(os.Args[2])
	size, _ := strconv.Atoi(os.Args[3])
	t0, c0 := time.Now(), cpuNs()
	switch size {
	case 32:
		for i := 0; i < n; i++ {
			ring32[i&(ring-1)] = new(obj32)
		}
	default:
		for i := 0; i < n; i++ {
			ring128[i&(ring-1)] = new(obj128)
		}
	}
	t, c := time.Since(t0), cpuNs()-c0
	recs := make([]runtime.MemProfileRecord, 4096)
	nrec, _ := runtime.MemProfile(recs, true)
	var samples int64
	for _, r := range recs[:nrec] {
		samples += r.AllocObjects
	}
	fmt.Printf("alloc %.3f ns %d %.3f\n", float64(t.Nanoseconds())/float64(n), samples,
		float64(c)/float64(n))
}
