// goroutines.go — the Go side of goroutines.c: N goroutines (default
// 100,000) parked for good in leaf() on a channel receive.  Prints
// "READY <pid>" once every goroutine has parked, then waits until killed.
//
//	goroutines [N]
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

var never = make(chan int)
var parked int64

//go:noinline
func leaf(depth int) int {
	atomic.AddInt64(&parked, 1)
	v := <-never
	return v + depth
}

//go:noinline
func middle(depth int) int {
	return leaf(depth+1) + 1
}

func worker(i int) {
	r := middle(i)
	fmt.Println("unexpected wake", r)
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	for i := 0; i < n; i++ {
		go worker(i)
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("READY %d\n", os.Getpid())
	for {
		time.Sleep(time.Hour)
	}
}
