package worker

import (
	"cmp"
	"slices"
	"sync"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// outbox queues the messages for the server; it outlives a session, so that
// settlements made while the stream is down go out on the next one.
//
// It also keeps every settlement (ack, nack, reject) from the moment it is
// queued until the server's Settled for it arrives: a Send that succeeded only
// means the message reached the local transport, and a stream that breaks can
// lose it. A lost settlement would leave its job to wait out its lease and run
// again, so rewind sends the unconfirmed ones again first on the next stream;
// the server fences settlements by attempt token, so a duplicate is harmless.
type outbox struct {
	mu    sync.Mutex
	items []*jobsvcv1.WorkRequest
	ready chan struct{}

	unconfirmed map[attemptKey]unconfirmed
	made        uint64 // settlements made so far: the order of unconfirmed
}

// attemptKey names one attempt of a job, as settlements and their
// confirmations do.
type attemptKey struct{ jobID, token string }

type unconfirmed struct {
	seq uint64
	msg *jobsvcv1.WorkRequest
}

func newOutbox() *outbox {
	return &outbox{ready: make(chan struct{}, 1), unconfirmed: map[attemptKey]unconfirmed{}}
}

func (o *outbox) push(m *jobsvcv1.WorkRequest) {
	o.mu.Lock()
	o.items = append(o.items, m)
	o.mu.Unlock()
	o.signal()
}

// settle queues a settlement (an ack, nack or reject) and keeps it until confirm.
func (o *outbox) settle(m *jobsvcv1.WorkRequest) {
	key, _ := settlementKey(m)
	o.mu.Lock()
	o.made++
	o.unconfirmed[key] = unconfirmed{seq: o.made, msg: m}
	o.items = append(o.items, m)
	o.mu.Unlock()
	o.signal()
}

// confirm forgets the settlement of a job's attempt: the server has it (done
// or refused, it is not sent again).
func (o *outbox) confirm(jobID, token string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.unconfirmed, attemptKey{jobID, token})
}

// unconfirmedCount counts the settlements the server has not confirmed yet.
func (o *outbox) unconfirmedCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.unconfirmed)
}

// rewind, at a session's start, puts the unconfirmed settlements that left the
// outbox (sent, or tried, on an earlier stream) back in front of it, in the
// order they were made; those still queued stay where they are.
func (o *outbox) rewind() {
	o.mu.Lock()
	queued := make(map[*jobsvcv1.WorkRequest]bool, len(o.items))
	for _, m := range o.items {
		queued[m] = true
	}
	var again []unconfirmed
	for _, u := range o.unconfirmed {
		if !queued[u.msg] {
			again = append(again, u)
		}
	}
	slices.SortFunc(again, func(a, b unconfirmed) int { return cmp.Compare(a.seq, b.seq) })
	front := make([]*jobsvcv1.WorkRequest, 0, len(again)+len(o.items))
	for _, u := range again {
		front = append(front, u.msg)
	}
	o.items = append(front, o.items...)
	o.mu.Unlock()
	if len(again) > 0 {
		o.signal()
	}
}

// pushFront puts back messages taken but not sent, to go first (in this order)
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

// settlementKey is the attempt a settlement (ack, nack, reject, park) settles; false
// for the other messages, which a new session makes obsolete (heartbeats,
// drain) or which may be lost (progress).
func settlementKey(m *jobsvcv1.WorkRequest) (attemptKey, bool) {
	switch k := m.GetKind().(type) {
	case *jobsvcv1.WorkRequest_Ack:
		return attemptKey{k.Ack.GetJobId(), k.Ack.GetAttemptToken()}, true
	case *jobsvcv1.WorkRequest_Nack:
		return attemptKey{k.Nack.GetJobId(), k.Nack.GetAttemptToken()}, true
	case *jobsvcv1.WorkRequest_Reject:
		return attemptKey{k.Reject.GetJobId(), k.Reject.GetAttemptToken()}, true
	case *jobsvcv1.WorkRequest_Park:
		return attemptKey{k.Park.GetJobId(), k.Park.GetAttemptToken()}, true
	}
	return attemptKey{}, false
}
