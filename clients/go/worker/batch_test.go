package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

func ackReq(t *testing.T, id string, result any) *jobsvcv1.WorkRequest {
	t.Helper()
	payload, err := jobsvc.NewPayload(result)
	if err != nil {
		t.Fatal(err)
	}
	return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Ack{Ack: &jobsvcv1.AckRequest{
		JobId: id, AttemptToken: "t-" + id, Result: payload,
	}}}
}

func progressReq(id string, percent float64) *jobsvcv1.WorkRequest {
	return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Progress{Progress: &jobsvcv1.ReportProgressRequest{
		JobId: id, AttemptToken: "t-" + id,
		Update: &jobsvcv1.ReportProgressRequest_Progress{Progress: &jobsvcv1.Progress{Percent: percent}},
	}}}
}

func nackReq(id string) *jobsvcv1.WorkRequest {
	return settlement(&task{jobID: id, token: "t-" + id}, 1, NewError("ValueError", "no"))
}

func rejectReq(id string) *jobsvcv1.WorkRequest {
	return settlement(&task{jobID: id, token: "t-" + id}, 1, Reject(NewError("Poison", "never")))
}

func drainReq() *jobsvcv1.WorkRequest {
	return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Drain_{Drain: &jobsvcv1.WorkRequest_Drain{}}}
}

// sameReports fails unless got and want are equal, message by message.
func sameReports(t *testing.T, got, want []*jobsvcv1.WorkRequest) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d reports, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("report %d is %v, want %v", i, got[i], want[i])
		}
	}
}

// flatten is what the messages carry, each batch item as its single message.
func flatten(out []outgoing) []*jobsvcv1.WorkRequest {
	var all []*jobsvcv1.WorkRequest
	for _, o := range out {
		if b := o.msg.GetBatch(); b != nil {
			for _, item := range b.GetItems() {
				all = append(all, unbatched(item))
			}
		} else {
			all = append(all, o.msg)
		}
	}
	return all
}

func TestCoalesceKeepsOrderAndSendsOthersAlone(t *testing.T) {
	ready := []*jobsvcv1.WorkRequest{
		progressReq("j1", 10), ackReq(t, "j1", "one"), nackReq("j2"),
		drainReq(), rejectReq("j3"),
	}
	out := coalesce(ready, 4<<20)
	if len(out) != 3 {
		t.Fatalf("%d messages, want a batch, the drain, the reject: %v", len(out), out)
	}
	if n := len(out[0].msg.GetBatch().GetItems()); n != 3 {
		t.Errorf("the first message carries %d items, want 3: %v", n, out[0].msg)
	}
	if out[1].msg != ready[3] || out[2].msg != ready[4] {
		t.Errorf("the drain and a lone reject go as they are: %v, %v", out[1].msg, out[2].msg)
	}
	sameReports(t, flatten(out), ready)
}

func TestCoalesceSplitsByBudget(t *testing.T) {
	const budget = 1000
	var ready []*jobsvcv1.WorkRequest
	for i := range 200 {
		if i%7 == 3 {
			ready = append(ready, progressReq(fmt.Sprintf("j%d", i), float64(i%100)))
		}
		ready = append(ready, ackReq(t, fmt.Sprintf("j%d", i), strings.Repeat("x", (i*37)%300)))
		if i == 100 { // over the budget alone: goes alone, as it would without batches
			ready = append(ready, ackReq(t, "big", strings.Repeat("y", 2*budget)))
		}
	}
	out := coalesce(ready, budget)
	sameReports(t, flatten(out), ready)
	batches := 0
	for i, o := range out {
		size := proto.Size(o.msg)
		if o.msg.GetBatch() == nil {
			if o.msg.GetAck().GetJobId() == "big" {
				continue
			}
			if i+1 < len(out) && size+proto.Size(out[i+1].msg) <= budget-16 {
				t.Errorf("message %d (%d bytes) went alone though the next (%d bytes) would fit with it",
					i, size, proto.Size(out[i+1].msg))
			}
			continue
		}
		batches++
		if size > budget {
			t.Errorf("batch %d is %d bytes, over the budget %d", i, size, budget)
		}
	}
	if batches < 10 || len(out) > len(ready)/2 {
		t.Errorf("%d messages (%d batches) for %d reports", len(out), batches, len(ready))
	}
}

// failingStream fails the Send numbered failAt (from 0).
type failingStream struct {
	workStream
	sends, failAt int
}

func (f *failingStream) Send(*jobsvcv1.WorkRequest) error {
	f.sends++
	if f.sends-1 == f.failAt {
		return errors.New("broken")
	}
	return nil
}

// TestFailedSendResendsSettlements: after a failed send, what was taken but
// not tried is put back, and the next stream sends the unconfirmed settlements
// (those of the failed send, and those sent before it) first.
func TestFailedSendResendsSettlements(t *testing.T) {
	p1, a1, a2, p3, a3 := progressReq("j1", 1), ackReq(t, "j1", 1), ackReq(t, "j2", 2), progressReq("j3", 3), ackReq(t, "j3", 3)
	drain := drainReq()
	for failAt, want := range map[int][]*jobsvcv1.WorkRequest{
		0: {a1, drain, a2, p3, a3}, // the batch's progress is dropped, as a single one would be
		1: {a1, a2, p3, a3},        // a1 went, unconfirmed; the drain is not put back
		2: {a1, a2, a3},
	} {
		w := &Worker{outbox: newOutbox()}
		for _, m := range []*jobsvcv1.WorkRequest{p1, a1, drain, a2, p3, a3} {
			if _, ok := settlementKey(m); ok {
				w.outbox.settle(m)
			} else {
				w.outbox.push(m)
			}
		}
		s := &session{w: w, batches: true, maxMessage: 4 << 20}
		if err := s.flush(&failingStream{failAt: failAt}); err == nil {
			t.Fatal("flush did not fail")
		}
		w.outbox.rewind()
		sameReports(t, w.outbox.takeReady(100), want)
	}
}

func TestHelloAcceptsBatches(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{})
	w.Handle("up", "1.0.0", upper)
	runWorker(t, w)
	if s := fake.next(t); !s.hello.GetAcceptsBatches() {
		t.Errorf("hello %v", s.hello)
	}
}

// TestReadyReportsGoAsOneBatch: what the outbox holds when a session opens (as
// after a reconnect) goes as one batch, in order; a lone report goes alone.
func TestReadyReportsGoAsOneBatch(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	fake.batches.Store(true)
	fake.maxMessage.Store(4 << 20)
	w := New(startFakeAck(t, fake), Options{})
	w.Handle("up", "1.0.0", func(_ context.Context, job *Job) (any, error) { return "done", nil })
	want := []*jobsvcv1.WorkRequest{
		progressReq("j1", 50), ackReq(t, "j1", "a"), nackReq("j2"), progressReq("j3", 1),
		rejectReq("j3"), ackReq(t, "j4", map[string]int{"n": 4}),
	}
	w.outbox.pushFront(want...)
	runWorker(t, w)
	s := fake.next(t)
	reports, messages := s.reports(t, len(want))
	if len(messages) != 1 || messages[0].GetBatch() == nil {
		t.Errorf("%d messages, want one batch: %v", len(messages), messages)
	}
	sameReports(t, reports, want)

	s.assign(t, "j5", "t5", "up", nil)
	if m := s.expect(t, false); m.GetAck().GetJobId() != "j5" {
		t.Errorf("a lone ack goes as a plain ack, got %v", m)
	}
}

func TestBatchesFitTheServersMessageLimit(t *testing.T) {
	t.Parallel()
	const limit = 2000
	fake := &fakeAck{}
	fake.batches.Store(true)
	fake.maxMessage.Store(limit)
	w := New(startFakeAck(t, fake), Options{})
	w.Handle("up", "1.0.0", upper)
	var want []*jobsvcv1.WorkRequest
	for i := range 40 {
		want = append(want, ackReq(t, fmt.Sprintf("j%d", i), strings.Repeat("r", 300)))
		if i == 20 {
			want = append(want, ackReq(t, "big", strings.Repeat("b", 3*limit)))
		}
	}
	w.outbox.pushFront(want...)
	runWorker(t, w)
	reports, messages := fake.next(t).reports(t, len(want))
	sameReports(t, reports, want)
	if len(messages) < 3 || len(messages) > 15 {
		t.Errorf("%d messages for %d reports", len(messages), len(want))
	}
	for _, m := range messages {
		if m.GetBatch() == nil {
			continue
		}
		if size := proto.Size(m); size > limit {
			t.Errorf("a batch of %d bytes, over the limit %d", size, limit)
		}
		for _, item := range m.GetBatch().GetItems() {
			if item.GetAck().GetJobId() == "big" {
				t.Error("the report over the limit alone was batched")
			}
		}
	}
}

func TestSinglesToAServerWithoutBatches(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{MinBackoff: 10 * time.Millisecond})
	w.Handle("up", "1.0.0", upper)
	want := []*jobsvcv1.WorkRequest{ackReq(t, "j1", 1), progressReq("j2", 2), nackReq("j2"), rejectReq("j3")}
	w.outbox.pushFront(want...)
	runWorker(t, w)
	s := fake.next(t)
	reports, messages := s.reports(t, len(want))
	sameReports(t, messages, want) // each alone
	sameReports(t, reports, want)

	// The next session's welcome says batches: they are used there.
	fake.batches.Store(true)
	fake.maxMessage.Store(4 << 20)
	close(s.kill)
	s = fake.next(t)
	w.outbox.pushFront(want...)
	reports, messages = s.reports(t, len(want))
	sameReports(t, reports, want)
	if len(messages) != 1 {
		t.Errorf("%d messages on the session that accepts batches: %v", len(messages), messages)
	}

	// And not on the one after, whose welcome does not.
	fake.batches.Store(false)
	close(s.kill)
	s = fake.next(t)
	w.outbox.pushFront(want...)
	_, messages = s.reports(t, len(want))
	sameReports(t, messages, want)
}

// syncBuffer is a log destination for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestBatchedAssignmentsAndOutcomes(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	fake.batches.Store(true)
	fake.maxMessage.Store(4 << 20)
	logs := &syncBuffer{}
	w := New(startFakeAck(t, fake), Options{Concurrency: 4, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	w.Handle("up", "1.0.0", upper)
	runWorker(t, w)
	s := fake.next(t)

	var items []*jobsvcv1.Assignment
	for i := range 4 {
		payload, _ := jobsvc.NewPayload(fmt.Sprintf("in%d", i))
		job := &jobsvcv1.Job{Id: fmt.Sprintf("j%d", i), Handler: "up", Version: "1.0.0", Input: payload, Attempt: 1}
		items = append(items, &jobsvcv1.Assignment{Job: job, AttemptToken: fmt.Sprintf("t%d", i)})
	}
	s.out <- &jobsvcv1.WorkResponse{Kind: &jobsvcv1.WorkResponse_Assignments_{
		Assignments: &jobsvcv1.WorkResponse_Assignments{Items: items},
	}}
	reports, _ := s.reports(t, 3*len(items)) // progress, partial output, ack each
	seen := map[string][]string{}
	for _, r := range reports {
		switch {
		case r.GetAck() != nil:
			var out string
			if err := jobsvc.DecodePayload(r.GetAck().GetResult(), &out); err != nil || !strings.HasPrefix(out, "IN") {
				t.Errorf("ack %v", r)
			}
			seen[r.GetAck().GetJobId()] = append(seen[r.GetAck().GetJobId()], "ack")
		case r.GetProgress() != nil:
			seen[r.GetProgress().GetJobId()] = append(seen[r.GetProgress().GetJobId()], "progress")
		}
	}
	for _, a := range items {
		if got := strings.Join(seen[a.GetJob().GetId()], ","); got != "progress,progress,ack" {
			t.Errorf("job %s: %s", a.GetJob().GetId(), got)
		}
	}

	s.out <- &jobsvcv1.WorkResponse{Kind: &jobsvcv1.WorkResponse_SettledBatch_{
		SettledBatch: &jobsvcv1.WorkResponse_SettledBatch{Items: []*jobsvcv1.WorkResponse_Settled{
			{JobId: "j0", AttemptToken: "t0"},
			{JobId: "j1", AttemptToken: "t1", Code: 9, Reason: "LEASE_LOST", Message: "too late"},
		}},
	}}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "LEASE_LOST") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if text := logs.String(); strings.Count(text, "refused a report") != 1 || !strings.Contains(text, "job_id=j1") {
		t.Errorf("logs:\n%s", text)
	}
}
