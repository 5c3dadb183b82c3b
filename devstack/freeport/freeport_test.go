package freeport

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// TestGet hands out 500 ports from 8 goroutines: all distinct, all below
// the ephemeral range, all bindable.
func TestGet(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 60 {
				p, err := Get()
				if err != nil {
					t.Errorf("Get() err = %v, want nil", err)
					return
				}
				mu.Lock()
				if seen[p] {
					t.Errorf("Get() = %d twice", p)
				}
				seen[p] = true
				mu.Unlock()
				if p < base || p >= base+span || p >= 32768 {
					t.Errorf("Get() = %d, want in [%d, %d), below the ephemeral range", p, base, base+span)
				}
			}
		})
	}
	wg.Wait()
	p, _ := Get()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("Listen on a port Get returned: %v", err)
	}
	l.Close()
}
