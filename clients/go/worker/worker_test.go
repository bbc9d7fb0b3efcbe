package worker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

func upper(ctx context.Context, job *Job) (any, error) {
	var s string
	if err := job.Decode(&s); err != nil {
		return nil, NonRetryable(err)
	}
	job.Progress(50, "half")
	if err := job.PartialOutput(map[string]int{"attempt": int(job.Attempt())}); err != nil {
		return nil, err
	}
	return strings.ToUpper(s), nil
}

func TestHelloProgressAck(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{WorkerID: "w1", Concurrency: 3, LeaseDuration: 20 * time.Second, Labels: map[string]string{"zone": "a"}})
	w.Handle("up", "1.0.0", upper, Description("upper-cases"), InputSchema(map[string]any{"type": "string"}))
	runWorker(t, w)
	s := fake.next(t)

	h := s.hello
	if h.GetWorkerId() != "w1" || h.GetConcurrency() != 3 || h.GetLeaseDuration().AsDuration() != 20*time.Second ||
		h.GetLabels()["zone"] != "a" || len(h.GetHandlers()) != 1 {
		t.Fatalf("hello %v", h)
	}
	if info := h.GetHandlers()[0]; info.GetName() != "up" || info.GetVersion() != "1.0.0" ||
		info.GetDescription() != "upper-cases" || info.GetInputSchema().AsMap()["type"] != "string" {
		t.Errorf("handler info %v", info)
	}

	s.assign(t, "j1", "t1", "up", "abc")
	progress := s.expect(t, false).GetProgress()
	if progress.GetJobId() != "j1" || progress.GetAttemptToken() != "t1" || progress.GetProgress().GetPercent() != 50 {
		t.Errorf("progress %v", progress)
	}
	var partial map[string]int
	if err := jobsvc.DecodePayload(s.expect(t, false).GetProgress().GetPartialOutput(), &partial); err != nil || partial["attempt"] != 1 {
		t.Errorf("partial output %v %v", partial, err)
	}
	ack := s.expect(t, false).GetAck()
	var result string
	if err := jobsvc.DecodePayload(ack.GetResult(), &result); err != nil || result != "ABC" || ack.GetAttemptToken() != "t1" {
		t.Errorf("ack %v: %v", ack, err)
	}
}

func TestErrorsAreNackedOrRejected(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{Concurrency: 5})
	w.Handle("err", "1.0.0", func(ctx context.Context, job *Job) (any, error) {
		var kind string
		_ = job.Decode(&kind)
		switch kind {
		case "typed":
			return nil, NewError("ValueError", "bad value")
		case "final":
			return nil, NonRetryable(fmt.Errorf("wrapped: %w", fs.ErrNotExist))
		case "reject":
			return nil, Reject(NewError("Poison", "never"))
		case "later":
			return nil, RetryAfter(errors.New("busy"), 3*time.Second)
		case "unencodable":
			return make(chan int), nil
		}
		panic("boom")
	})
	runWorker(t, w)
	s := fake.next(t)

	s.assign(t, "j1", "t1", "err", "typed")
	if e := s.expect(t, false).GetNack().GetError(); e.GetType() != "ValueError" || e.GetMessage() != "bad value" ||
		e.GetNonRetryable() || e.GetAttempt() != 1 {
		t.Errorf("typed: %v", e)
	}
	s.assign(t, "j2", "t2", "err", "final")
	if e := s.expect(t, false).GetNack().GetError(); !e.GetNonRetryable() || e.GetType() != "fmt.wrapError" ||
		e.GetMessage() != "wrapped: file does not exist" {
		t.Errorf("non-retryable: %v", e)
	}
	s.assign(t, "j3", "t3", "err", "reject")
	if r := s.expect(t, false).GetReject(); r.GetJobId() != "j3" || r.GetError().GetType() != "Poison" {
		t.Errorf("reject: %v", r)
	}
	s.assign(t, "j4", "t4", "err", "later")
	if n := s.expect(t, false).GetNack(); n.GetRetryDelay().AsDuration() != 3*time.Second || n.GetError().GetType() != "errors.errorString" {
		t.Errorf("retry after: %v", n)
	}
	s.assign(t, "j5", "t5", "err", "unencodable")
	if e := s.expect(t, false).GetNack().GetError(); e.GetType() != "jobsvc.EncodeError" || !e.GetNonRetryable() {
		t.Errorf("unencodable: %v", e)
	}
	s.assign(t, "j6", "t6", "err", "panic")
	if e := s.expect(t, false).GetNack().GetError(); e.GetType() != "panic" || e.GetMessage() != "panic: boom" ||
		!strings.Contains(e.GetTraceback(), "worker_test.go") {
		t.Errorf("panic: %v", e)
	}
	s.assign(t, "j7", "t7", "nope", nil)
	if e := s.expect(t, false).GetNack().GetError(); e.GetType() != "jobsvc.HandlerNotServed" {
		t.Errorf("unknown handler: %v", e)
	}
}

func TestCancelStopsHandlerWithoutSettling(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{})
	cause := make(chan error, 1)
	w.Handle("block", "1.0.0", func(ctx context.Context, job *Job) (any, error) {
		job.Progress(1, "started")
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	runWorker(t, w)
	s := fake.next(t)
	s.assign(t, "j1", "t1", "block", nil)
	s.expect(t, false) // progress: the handler runs
	s.out <- cancelMsg("j1", "t1")
	select {
	case err := <-cause:
		if !errors.Is(err, errCancelled) || !strings.Contains(err.Error(), "by request") {
			t.Errorf("cause %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled")
	}
	s.quiet(t, 200*time.Millisecond)
	if w.busy() != 0 {
		t.Errorf("the worker still holds %d jobs", w.busy())
	}
}

func TestHeartbeatsListLeases(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{heartbeat: 30 * time.Millisecond}
	w := New(startFakeAck(t, fake), Options{WorkerID: "w1"})
	release := make(chan struct{})
	w.Handle("block", "1.0.0", func(ctx context.Context, job *Job) (any, error) {
		<-release
		return "done", nil
	})
	runWorker(t, w)
	s := fake.next(t)
	s.assign(t, "j1", "t1", "block", nil)
	for {
		hb := s.expect(t, true).GetHeartbeat()
		if hb.GetWorkerId() != "w1" {
			t.Fatalf("heartbeat %v", hb)
		}
		if len(hb.GetLeases()) == 1 && hb.GetLeases()[0].GetJobId() == "j1" && hb.GetLeases()[0].GetAttemptToken() == "t1" {
			break
		}
	}
	close(release)
	if ack := s.expect(t, false).GetAck(); ack.GetJobId() != "j1" {
		t.Errorf("ack %v", ack)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{Concurrency: 2})
	var running, most atomic.Int32
	w.Handle("slow", "1.0.0", func(ctx context.Context, job *Job) (any, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		return nil, nil
	})
	runWorker(t, w)
	s := fake.next(t)
	for i := range 6 {
		s.assign(t, fmt.Sprintf("j%d", i), "t", "slow", nil)
	}
	for range 6 {
		if s.expect(t, false).GetAck() == nil {
			t.Fatal("want acks")
		}
	}
	if most.Load() != 2 {
		t.Errorf("%d handlers ran at once, want 2", most.Load())
	}
}

func TestReconnectKeepsRunningJobs(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{MinBackoff: 10 * time.Millisecond})
	release := make(chan struct{})
	w.Handle("block", "1.0.0", func(ctx context.Context, job *Job) (any, error) {
		select {
		case <-release:
			return "survived", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	runWorker(t, w)
	first := fake.next(t)
	first.assign(t, "j1", "t1", "block", nil)
	for w.busy() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	close(first.kill)

	second := fake.next(t)
	hb := second.expect(t, true).GetHeartbeat() // the leases it still holds, right after hello
	if len(hb.GetLeases()) != 1 || hb.GetLeases()[0].GetJobId() != "j1" {
		t.Fatalf("first message after reconnecting: %v", hb)
	}
	close(release)
	var result string
	if err := jobsvc.DecodePayload(second.expect(t, false).GetAck().GetResult(), &result); err != nil || result != "survived" {
		t.Errorf("ack on the new session: %q %v", result, err)
	}
}

func TestGracefulStopDrains(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{})
	release := make(chan struct{})
	w.Handle("block", "1.0.0", func(ctx context.Context, job *Job) (any, error) {
		<-release
		return "finished", nil
	})
	stop := runWorker(t, w)
	s := fake.next(t)
	s.assign(t, "j1", "t1", "block", nil)
	for w.busy() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	if s.expect(t, false).GetDrain() == nil {
		t.Fatal("want drain first")
	}
	close(release)
	ack := s.expect(t, false)
	if ack.GetAck().GetJobId() != "j1" {
		t.Fatalf("want the ack, got %v", ack)
	}
	select { // Run waits for the server to confirm the ack
	case err := <-stopped:
		t.Fatalf("Run returned before the ack was confirmed: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	s.confirm(ack)
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
	for m := range s.in { // the worker hung up: the stream's input ends
		if m.GetHeartbeat() == nil {
			t.Errorf("after the ack: %v", m)
		}
	}
}

func TestStopTimeoutAbandonsHandlers(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{}
	w := New(startFakeAck(t, fake), Options{StopTimeout: 100 * time.Millisecond})
	cause := make(chan error, 1)
	w.Handle("stubborn", "1.0.0", func(ctx context.Context, job *Job) (any, error) {
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	stop := runWorker(t, w)
	s := fake.next(t)
	s.assign(t, "j1", "t1", "stubborn", nil)
	for w.busy() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Errorf("stopped after %v", d)
	}
	if err := <-cause; !errors.Is(err, errStopping) {
		t.Errorf("cause %v", err)
	}
	for m := range s.in {
		if m.GetHeartbeat() == nil && m.GetDrain() == nil {
			t.Errorf("an abandoned job was reported: %v", m)
		}
	}
}

func TestRefusedWorker(t *testing.T) {
	t.Parallel()
	fake := &fakeAck{refuse: status.Error(codes.InvalidArgument, "bad hello")}
	w := New(startFakeAck(t, fake), Options{})
	w.Handle("x", "1.0.0", upper)
	err := w.Run(context.Background())
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("Run: %v", err)
	}
	if err := New(startFakeAck(t, &fakeAck{}), Options{}).Run(context.Background()); err == nil {
		t.Error("Run without handlers must fail")
	}
}

func TestHandleTwicePanics(t *testing.T) {
	w := New(startFakeAck(t, &fakeAck{}), Options{})
	w.Handle("x", "1.0.0", upper)
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	w.Handle("x", "1.0.0", upper)
}

func TestErrorType(t *testing.T) {
	for err, want := range map[error]string{
		NewError("KeyError", "k"):                        "KeyError",
		fmt.Errorf("ctx: %w", context.Canceled):          "context.Canceled",
		NonRetryable(&fs.PathError{Err: fs.ErrNotExist}): "fs.PathError",
		Reject(RetryAfter(errors.New("x"), time.Second)): "errors.errorString",
		fmt.Errorf("w: %w", NewError("ValueError", "v")): "ValueError",
	} {
		if got := errorType(err); got != want {
			t.Errorf("errorType(%v) = %q, want %q", err, got, want)
		}
	}
}
