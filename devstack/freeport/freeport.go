// Package freeport hands out loopback ports for the local stack's
// emulators and Lambda instances, which must each listen on a port of
// their own.
//
// Ports come from 20000-31999, below the kernel's ephemeral range
// (32768-60999 by default on Linux). A port the kernel offers for
// "127.0.0.1:0" is also the kind it gives outgoing connections: between
// the probe and the child's bind, a client socket of any process (a test
// suite makes thousands) can take it, and the child then fails to listen,
// or its Runtime API does and the invoke is reset. A port is never handed
// out twice by one process.
package freeport

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

const (
	base = 20000
	span = 12000
)

// handedOut holds the ports Get returned in this process: the kernel may
// offer a port again as soon as its probe listener closes, and two
// children started at once must never share one.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Get returns a loopback port below the ephemeral range that nobody
// listens on now and that this process has not handed out before.
func Get() (int, error) {
	for range 200 {
		port := base + rand.IntN(span)
		handedOut.Lock()
		taken := handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if taken {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // another process listens there
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("freeport: no free port below the ephemeral range")
}
