// goroutines.go — N goroutines parked in a channel receive, and
// net/http/pprof (bench/profile/goroutine.sh).  Prints "PORT p" and READY once all
// are parked; exits when stdin closes.
package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strconv"
	"sync"
)

var never = make(chan int64)

//go:noinline
func waitChan(wg *sync.WaitGroup) {
	wg.Done()
	<-never
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go waitChan(&wg)
	}
	wg.Wait()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, nil)
	fmt.Printf("PORT %d\nREADY\n", ln.Addr().(*net.TCPAddr).Port)
	b := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(b); err != nil {
			return
		}
	}
}
