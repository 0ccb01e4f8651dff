// rtbench.go — the Go side of rtbench.c: the same three workloads, timed the
// same way.
//
//	rtbench spawn | pingpong | park
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	spawnN    = 1000000
	pingpongN = 1000000
	parkN     = 100000
)

func benchSpawn() {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(spawnN)
	for i := 0; i < spawnN; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	fmt.Printf("spawn %.3f s\n", time.Since(t0).Seconds())
}

func benchPingpong() {
	ping := make(chan int64)
	pong := make(chan int64)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := int64(0); i < pingpongN; i++ {
		ping <- i
		<-pong
	}
	fmt.Printf("pingpong %.1f ns\n", float64(time.Since(t0).Nanoseconds())/pingpongN)
}

func benchPark() {
	var wg sync.WaitGroup
	var arrived int64
	gate := make(chan int64)
	t0 := time.Now()
	wg.Add(parkN)
	for i := 0; i < parkN; i++ {
		go func() {
			atomic.AddInt64(&arrived, 1)
			<-gate
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&arrived) < parkN {
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	fmt.Printf("park %.3f s\n", time.Since(t0).Seconds())
}

func main() {
	w := ""
	if len(os.Args) > 1 {
		w = os.Args[1]
	}
	switch w {
	case "spawn":
		benchSpawn()
	case "pingpong":
		benchPingpong()
	case "park":
		benchPark()
	default:
		fmt.Fprintln(os.Stderr, "usage: rtbench spawn|pingpong|park")
		os.Exit(2)
	}
}
