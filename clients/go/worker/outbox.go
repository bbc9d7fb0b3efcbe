package worker

import (
	"sync"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// outbox queues the messages for the server; it outlives a session, so that
// settlements made while the stream is down go out on the next one.
type outbox struct {
	mu    sync.Mutex
	items []*jobsvcv1.WorkRequest
	ready chan struct{}
}

func newOutbox() *outbox { return &outbox{ready: make(chan struct{}, 1)} }

func (o *outbox) push(m *jobsvcv1.WorkRequest) {
	o.mu.Lock()
	o.items = append(o.items, m)
	o.mu.Unlock()
	o.signal()
}

// pushFront puts back messages whose send failed, to go first (in this order)
// next time.
func (o *outbox) pushFront(ms ...*jobsvcv1.WorkRequest) {
	if len(ms) == 0 {
		return
	}
	o.mu.Lock()
	o.items = append(append(make([]*jobsvcv1.WorkRequest, 0, len(ms)+len(o.items)), ms...), o.items...)
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) signal() {
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// take returns the oldest message, if any.
func (o *outbox) take() (*jobsvcv1.WorkRequest, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.items) == 0 {
		return nil, false
	}
	m := o.items[0]
	o.items[0] = nil
	o.items = o.items[1:]
	return m, true
}

// takeReady returns the oldest messages, up to limit: what is ready to go now.
func (o *outbox) takeReady(limit int) []*jobsvcv1.WorkRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(len(o.items), limit)
	if n == 0 {
		return nil
	}
	ms := make([]*jobsvcv1.WorkRequest, n)
	copy(ms, o.items)
	clear(o.items[:n])
	o.items = o.items[n:]
	return ms
}

func (o *outbox) empty() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items) == 0
}

// isSettlement tells the messages that must reach the server (ack, nack,
// reject) from those a new session makes obsolete (heartbeats, drain) or that
// may be lost (progress).
func isSettlement(m *jobsvcv1.WorkRequest) bool {
	switch m.GetKind().(type) {
	case *jobsvcv1.WorkRequest_Ack, *jobsvcv1.WorkRequest_Nack, *jobsvcv1.WorkRequest_Reject:
		return true
	}
	return false
}
