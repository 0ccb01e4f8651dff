// tbcrash.go — tbcrash.c in Go: N goroutines parked at the end of a call
// chain three deep, then, at a byte on stdin, a divide by zero (run with
// GOTRACEBACK=all by bench/traceback/run.sh).
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
)

var never chan int
var wg sync.WaitGroup
var sink int

//go:noinline
func wait3() {
	<-never
	sink++
}

//go:noinline
func wait2() {
	wait3()
	sink++
}

//go:noinline
func parked() {
	wg.Done()
	wait2()
	sink++
}

func main() {
	n := 10000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	never = make(chan int)
	wg.Add(n)
	for i := 0; i < n; i++ {
		go parked()
	}
	wg.Wait()
	fmt.Println("READY")
	b := make([]byte, 1)
	r, _ := os.Stdin.Read(b)
	zero := r - 1
	fmt.Println(2 / zero)
}
