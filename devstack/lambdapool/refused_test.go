package lambdapool

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestRefusedConnection: only a failure while the connection was being
// opened (refused, or reset in the handshake) or while the request was
// being written (the emulator cannot run a request it did not receive
// whole) proves nothing ran; a reset or EOF while reading the answer does
// not.
func TestRefusedConnection(t *testing.T) {
	dial := func(errno syscall.Errno) error {
		return fmt.Errorf("invoke: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"refused", dial(syscall.ECONNREFUSED), true},
		{"reset in the handshake", dial(syscall.ECONNRESET), true},
		{"reset while writing the request", fmt.Errorf("invoke: %w", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}), true},
		{"broken pipe writing the request", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, true},
		{"reset while reading", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, false},
		{"timeout dialling", dial(syscall.ETIMEDOUT), false},
		{"other", errors.New("EOF"), false},
	}
	for _, tt := range tests {
		if got := refusedConnection(tt.err); got != tt.want {
			t.Errorf("%s: refusedConnection() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
