// Package testproxy is a loopback TCP proxy for tests: it forwards connections to
// a server and can cut them all, as a network failure would.
package testproxy

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards loopback connections to a server and can cut them all, while
// still accepting new ones.
type Proxy struct {
	lis      net.Listener
	upstream string
	// swallow: the open connections' bytes to the server are dropped.
	swallow   atomic.Bool
	swallowed atomic.Int64

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

// Cut closes every open connection, both ways; connections made after it
// forward everything again (see Swallow).
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.swallow.Store(false)
}

// Swallow makes the open connections drop what clients send until Cut: the
// client's writes succeed, the server never sees them, as when a network dies
// with messages in flight.
func (p *Proxy) Swallow() { p.swallow.Store(true) }

// Swallowed counts the bytes dropped since the proxy started.
func (p *Proxy) Swallowed() int64 { return p.swallowed.Load() }

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
		go pipe(up, down, p.upstreamWriter(up))
		go pipe(down, up, down)
	}
}

// upstreamWriter writes to the server unless the proxy swallows.
func (p *Proxy) upstreamWriter(up net.Conn) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		if p.swallow.Load() {
			p.swallowed.Add(int64(len(b)))
			return len(b), nil
		}
		return up.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// pipe copies src to w until either end closes, then closes both.
func pipe(dst, src net.Conn, w io.Writer) {
	_, _ = io.Copy(w, src)
	_ = dst.Close()
	_ = src.Close()
}
