package worker_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobsvc/jobsvc/clients/go/internal/testproxy"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
	"github.com/jobsvc/jobsvc/clients/go/worker"
)

// TestLiveWorkerResendsUnconfirmedSettlements loses the worker's acks on the
// wire (the proxy swallows them, then cuts the connection): the worker must
// send them again on its next stream, so that every job succeeds once, without
// waiting out its lease and running again.
func TestLiveWorkerResendsUnconfirmedSettlements(t *testing.T) {
	const jobs = 4
	addr, ctx, client := liveServer(t, 60*time.Second)

	proxy := testproxy.Start(t, addr)
	// A short lease: without the resend, a lost ack shows as a requeue within seconds.
	w, err := worker.Dial(ctx, proxy.Addr(), worker.Options{
		WorkerID: "go-resend-test", Concurrency: jobs, LeaseDuration: 3 * time.Second, MinBackoff: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var mu sync.Mutex
	runs := map[string]int{}
	var returned atomic.Int32
	started, release := make(chan struct{}, jobs), make(chan struct{})
	w.Handle("go_live_resend", "1.0.0", func(ctx context.Context, job *worker.Job) (any, error) {
		mu.Lock()
		runs[job.ID()]++
		mu.Unlock()
		started <- struct{}{}
		defer returned.Add(1)
		select {
		case <-release:
			return "done " + job.ID(), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(workerCtx) }()
	defer func() {
		stopWorker()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitOnline(ctx, t, client, "go_live_resend")

	ids := make([]string, jobs)
	for i := range ids {
		job, err := client.Submit(ctx, "go_live_resend", i)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = job.GetId()
	}
	for range jobs {
		<-started
	}
	proxy.Swallow()
	close(release)
	waitSwallowed(ctx, t, proxy, func() bool { return returned.Load() == jobs })
	proxy.Cut()

	for _, id := range ids {
		var result string
		for event, err := range client.Stream(ctx, id, 0) {
			if err != nil {
				t.Fatal(err)
			}
			if event.GetSucceeded() != nil {
				_ = jobsvc.DecodePayload(event.GetSucceeded().GetResult(), &result)
			}
			if event.GetRetrying() != nil || event.GetRequeued() != nil || event.GetFailed() != nil {
				t.Fatalf("job %s: the lost ack was not sent again: %v", id, event)
			}
		}
		if want := "done " + id; result != want {
			t.Errorf("job %s: result %q, want %q", id, result, want)
		}
	}
	if proxy.Accepted() < 2 {
		t.Errorf("the worker did not reconnect (%d connections)", proxy.Accepted())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if runs[id] != 1 {
			t.Errorf("job %s ran %d times", id, runs[id])
		}
	}
}

// waitSwallowed waits until done() and the proxy has swallowed what the worker
// wrote then (nothing more for a while).
func waitSwallowed(ctx context.Context, t *testing.T, proxy *testproxy.Proxy, done func() bool) {
	t.Helper()
	for !done() {
		if ctx.Err() != nil {
			t.Fatal("the handlers did not return")
		}
		time.Sleep(5 * time.Millisecond)
	}
	last := int64(-1)
	for n := proxy.Swallowed(); n == 0 || n != last; n = proxy.Swallowed() {
		if ctx.Err() != nil {
			t.Fatalf("the proxy swallowed %d bytes", n)
		}
		last = n
		time.Sleep(200 * time.Millisecond)
	}
}
