// cpubench.go — Go's figure for bench/profile/cpu.sh: the same work as
// cpubench.c in two goroutines, with pprof.StartCPUProfile (100 Hz) or not.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var sink uint64

//go:noinline
func work(x uint64) uint64 {
	for i := 0; i < 1000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func main() {
	rounds, _ := strconv.Atoi(os.Args[1])
	if os.Args[2] == "on" {
		f, _ := os.Create(os.DevNull)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	c0, w0 := cpuNs(), time.Now()
	var wg sync.WaitGroup
	for g := 1; g <= 2; g++ {
		wg.Add(1)
		go func(x uint64) {
			for r := 0; r < rounds; r++ {
				x = work(x)
			}
			sink = x
			wg.Done()
		}(uint64(g))
	}
	wg.Wait()
	fmt.Printf("cpu %d\nwall %d\n", cpuNs()-c0, time.Since(w0).Nanoseconds())
}
