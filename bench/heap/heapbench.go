// heapbench.go — the Go side of heapbench.c: the same workloads, timed the
// same way.
//
//	heapbench alloc N SIZE | pause N
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

const ring = 1024

type obj32 struct{ v [4]uint64 }
type obj128 struct{ v [16]uint64 }

var ring32 [ring]*obj32
var ring128 [ring]*obj128

// Escaping new in a loop: each object replaces one of 1,024 live ones in a
// global ring, as heapbench.c does.
func benchAlloc(n int, size int) {
	t0 := time.Now()
	switch size {
	case 32:
		for i := 0; i < n; i++ {
			p := new(obj32)
			p.v[0] = uint64(i)
			ring32[i&(ring-1)] = p
		}
	case 128:
		for i := 0; i < n; i++ {
			p := new(obj128)
			p.v[0] = uint64(i)
			ring128[i&(ring-1)] = p
		}
	default:
		fmt.Fprintln(os.Stderr, "size must be 32 or 128")
		os.Exit(2)
	}
	t := time.Since(t0)
	fmt.Printf("alloc %.2f ns\n", float64(t.Nanoseconds())/float64(n))
}

type node struct {
	left, right *node
	payload     [10]uint64 // 96 bytes in all
}

var root *node
var level []*node

// The tree of heapbench.c: complete, binary, built bottom-up.
func build(n int) *node {
	level = make([]*node, n)
	for i := n - 1; i >= 0; i-- {
		x := new(node)
		x.payload[0] = uint64(i)
		l, r := 2*i+1, 2*i+2
		if l < n {
			x.left = level[l]
		}
		if r < n {
			x.right = level[r]
		}
		level[i] = x
	}
	t := level[0]
	level = nil
	return t
}

func benchPause(n int) {
	t0 := time.Now()
	root = build(n)
	built := time.Since(t0)
	runtime.GC()
	var pauses, walls []float64
	var ms runtime.MemStats
	for k := 0; k < 3; k++ {
		t1 := time.Now()
		runtime.GC()
		walls = append(walls, float64(time.Since(t1).Nanoseconds()))
		runtime.ReadMemStats(&ms)
		pauses = append(pauses, float64(ms.PauseNs[(ms.NumGC+255)%256]))
	}
	sort.Float64s(pauses)
	sort.Float64s(walls)
	fmt.Printf("pause %.2f ms\ngc %.2f ms\nbuild %.2f s\nheap %d MB\n", pauses[1]/1e6,
		walls[1]/1e6, built.Seconds(), ms.HeapAlloc>>20)
	if root.payload[0] != 0 {
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) >= 4 && os.Args[1] == "alloc" {
		n, _ := strconv.Atoi(os.Args[2])
		size, _ := strconv.Atoi(os.Args[3])
		benchAlloc(n, size)
		return
	}
	if len(os.Args) >= 3 && os.Args[1] == "pause" {
		n, _ := strconv.Atoi(os.Args[2])
		benchPause(n)
		return
	}
	fmt.Fprintln(os.Stderr, "usage: heapbench alloc N SIZE | pause N")
	os.Exit(2)
}
