// Package testproxy is a loopback TCP proxy for tests: it forwards connections to
// a server and can cut them all, as a network failure would.
package testproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards loopback connections to a server and can cut them all, while
// still accepting new ones.
type Proxy struct {
	lis      net.Listener
	upstream string

	mu       sync.Mutex
	conns    []net.Conn
	accepted int
}

// Start runs a proxy to upstream until the test ends.
func Start(t testing.TB, upstream string) *Proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{lis: lis, upstream: upstream}
	go p.serve()
	t.Cleanup(func() {
		_ = lis.Close()
		p.Cut()
	})
	return p
}

// Addr is the address clients dial.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Accepted counts the connections made through the proxy so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Cut closes every open connection, both ways.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *Proxy) serve() {
	for {
		down, err := p.lis.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = down.Close()
			continue
		}
		p.mu.Lock()
		p.accepted++
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		go pipe(up, down)
		go pipe(down, up)
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}
