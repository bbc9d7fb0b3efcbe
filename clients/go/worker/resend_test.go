package worker

import (
	"context"
	"testing"
	"time"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// waitUnconfirmed waits until the worker holds n unconfirmed settlements.
func waitUnconfirmed(t *testing.T, w *Worker, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); w.outbox.unconfirmedCount() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d unconfirmed settlements, want %d", w.outbox.unconfirmedCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUnconfirmedSettlementsGoFirstOnTheNextStream: settlements the server has
// not confirmed (by Settled or SettledBatch) when a stream breaks are sent again
// first on the next one, in the order they were made (as one batch to a server
// that reads batches); confirmed ones are not.
func TestUnconfirmedSettlementsGoFirstOnTheNextStream(t *testing.T) {
	t.Parallel()
	for _, batches := range []bool{false, true} {
		t.Run(map[bool]string{false: "singles", true: "batches"}[batches], func(t *testing.T) {
			t.Parallel()
			fake := &fakeAck{}
			fake.batches.Store(batches)
			fake.maxMessage.Store(4 << 20)
			w := New(startFakeAck(t, fake), Options{Concurrency: 3, MinBackoff: 10 * time.Millisecond})
			w.Handle("up", "1.0.0", func(context.Context, *Job) (any, error) { return "done", nil })
			runWorker(t, w)

			first := fake.next(t)
			for _, id := range []string{"j1", "j2", "j3"} {
				first.assign(t, id, "t-"+id, "up", nil)
			}
			sent, _ := first.reports(t, 3)
			var unconfirmed []*jobsvcv1.WorkRequest
			for _, m := range sent {
				if m.GetAck().GetJobId() == "j2" {
					first.confirm(m)
				} else {
					unconfirmed = append(unconfirmed, m)
				}
			}
			waitUnconfirmed(t, w, 2)
			close(first.kill)

			second := fake.next(t)
			again, messages := second.reports(t, 2)
			sameReports(t, again, unconfirmed)
			if batches && (len(messages) != 1 || messages[0].GetBatch() == nil) {
				t.Errorf("%d messages, want one batch: %v", len(messages), messages)
			}
			second.confirm(again...)
			waitUnconfirmed(t, w, 0)
			close(second.kill)

			fake.next(t).quiet(t, 200*time.Millisecond)
		})
	}
}

// TestStopGivesUpOnUnconfirmedSettlements: Run waits for the server to confirm
// the settlements, but no longer than StopTimeout.
func TestStopGivesUpOnUnconfirmedSettlements(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{StopTimeout: 150 * time.Millisecond})
	w.Handle("up", "1.0.0", func(context.Context, *Job) (any, error) { return "done", nil })
	stop := runWorker(t, w)
	s := fake.next(t)
	s.assign(t, "j1", "t1", "up", nil)
	if s.expect(t, false).GetAck() == nil {
		t.Fatal("want the ack")
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Errorf("stopped after %v", d)
	}
}
