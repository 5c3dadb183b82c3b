package lambdapool

import (
	"bytes"
	"io"
	"sync"
)

// prefixWriter writes whole lines to w, each prefixed.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     sync.Mutex
	buf    []byte
}

var writeMu sync.Mutex // serialises lines from every instance

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		writeMu.Lock()
		_, err := p.w.Write(line)
		writeMu.Unlock()
		if err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
