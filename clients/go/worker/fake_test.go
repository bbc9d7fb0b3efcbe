package worker

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// fakeAck is an AckService that hands each Work session to the test.
type fakeAck struct {
	jobsvcv1.UnimplementedAckServiceServer
	heartbeat time.Duration
	refuse    error
	sessions  chan *fakeSession
	// batches makes the welcome say accepts_batches with max_message_bytes
	// maxMessage (read at each session's start).
	batches    atomic.Bool
	maxMessage atomic.Int64
}

// fakeSession is one Work stream as the server sees it.
type fakeSession struct {
	hello *jobsvcv1.WorkerInfo
	in    chan *jobsvcv1.WorkRequest  // from the worker; closed when it hangs up
	out   chan *jobsvcv1.WorkResponse // to the worker
	kill  chan struct{}               // close to break the stream
}

func (f *fakeAck) Work(stream grpc.BidiStreamingServer[jobsvcv1.WorkRequest, jobsvcv1.WorkResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if f.refuse != nil {
		return f.refuse
	}
	s := &fakeSession{
		hello: first.GetHello(),
		in:    make(chan *jobsvcv1.WorkRequest, 1000),
		out:   make(chan *jobsvcv1.WorkResponse, 100),
		kill:  make(chan struct{}),
	}
	welcome := &jobsvcv1.WorkResponse_Welcome{SessionId: "s", HeartbeatInterval: durationpb.New(f.heartbeat)}
	if f.batches.Load() {
		welcome.AcceptsBatches, welcome.MaxMessageBytes = true, f.maxMessage.Load()
	}
	if err := stream.Send(&jobsvcv1.WorkResponse{Kind: &jobsvcv1.WorkResponse_Welcome_{Welcome: welcome}}); err != nil {
		return err
	}
	hungUp := make(chan struct{})
	go func() {
		defer close(hungUp)
		defer close(s.in)
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			s.in <- m
		}
	}()
	f.sessions <- s
	for {
		select {
		case r := <-s.out:
			if err := stream.Send(r); err != nil {
				return err
			}
		case <-s.kill:
			return status.Error(codes.Unavailable, "killed by the test")
		case <-hungUp:
			return nil
		}
	}
}

func startFakeAck(t *testing.T, f *fakeAck) *jobsvc.Client {
	t.Helper()
	if f.heartbeat == 0 {
		f.heartbeat = time.Hour
	}
	f.sessions = make(chan *fakeSession, 10)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	jobsvcv1.RegisterAckServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	c, err := jobsvc.Dial(context.Background(), lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (f *fakeAck) next(t *testing.T) *fakeSession {
	t.Helper()
	select {
	case s := <-f.sessions:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no worker session")
		return nil
	}
}

// assign sends an assignment of a JSON input.
func (s *fakeSession) assign(t *testing.T, id, token, handler string, input any) {
	t.Helper()
	payload, err := jobsvc.NewPayload(input)
	if err != nil {
		t.Fatal(err)
	}
	job := &jobsvcv1.Job{Id: id, Handler: handler, Version: "1.0.0", Input: payload, Attempt: 1}
	s.out <- &jobsvcv1.WorkResponse{Kind: &jobsvcv1.WorkResponse_Assignment{
		Assignment: &jobsvcv1.Assignment{Job: job, AttemptToken: token},
	}}
}

// expect returns the next message from the worker that is not a heartbeat
// (unless heartbeats are wanted).
func (s *fakeSession) expect(t *testing.T, heartbeats bool) *jobsvcv1.WorkRequest {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-s.in:
			if !ok {
				t.Fatal("the worker hung up")
			}
			if m.GetHeartbeat() != nil && !heartbeats {
				continue
			}
			return m
		case <-timeout:
			t.Fatal("no message from the worker")
		}
	}
}

// reports returns the next n reports from the worker (settlements and progress,
// each batch item counted alone), in the order sent, and the messages that
// carried them.
func (s *fakeSession) reports(t *testing.T, n int) ([]*jobsvcv1.WorkRequest, []*jobsvcv1.WorkRequest) {
	t.Helper()
	var reports, messages []*jobsvcv1.WorkRequest
	for len(reports) < n {
		m := s.expect(t, false)
		messages = append(messages, m)
		if b := m.GetBatch(); b != nil {
			for _, item := range b.GetItems() {
				reports = append(reports, unbatched(item))
			}
			continue
		}
		reports = append(reports, m)
	}
	return reports, messages
}

// unbatched is a batch item as the single message it stands for.
func unbatched(item *jobsvcv1.WorkRequest_Batch_Item) *jobsvcv1.WorkRequest {
	switch k := item.GetKind().(type) {
	case *jobsvcv1.WorkRequest_Batch_Item_Ack:
		return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Ack{Ack: k.Ack}}
	case *jobsvcv1.WorkRequest_Batch_Item_Nack:
		return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Nack{Nack: k.Nack}}
	case *jobsvcv1.WorkRequest_Batch_Item_Reject:
		return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Reject{Reject: k.Reject}}
	case *jobsvcv1.WorkRequest_Batch_Item_Progress:
		return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Progress{Progress: k.Progress}}
	}
	return nil
}

// confirm answers the worker's settlements as the server does once it has
// them: one Settled for one, a SettledBatch for several.
func (s *fakeSession) confirm(settlements ...*jobsvcv1.WorkRequest) {
	items := make([]*jobsvcv1.WorkResponse_Settled, 0, len(settlements))
	for _, m := range settlements {
		key, _ := settlementKey(m)
		items = append(items, &jobsvcv1.WorkResponse_Settled{JobId: key.jobID, AttemptToken: key.token})
	}
	if len(items) == 1 {
		s.out <- &jobsvcv1.WorkResponse{Kind: &jobsvcv1.WorkResponse_Settled_{Settled: items[0]}}
		return
	}
	s.out <- &jobsvcv1.WorkResponse{Kind: &jobsvcv1.WorkResponse_SettledBatch_{
		SettledBatch: &jobsvcv1.WorkResponse_SettledBatch{Items: items},
	}}
}

// quiet asserts that the worker sends nothing but heartbeats for d.
func (s *fakeSession) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-s.in:
			if ok && m.GetHeartbeat() == nil {
				t.Fatalf("unexpected message %v", m)
			}
		case <-timeout:
			return
		}
	}
}

// runWorker runs w until the test ends; the returned cancel stops it and
// returns Run's error.
func runWorker(t *testing.T, w *Worker) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return stop
}

func cancelMsg(id, token string) *jobsvcv1.WorkResponse {
	return &jobsvcv1.WorkResponse{Kind: &jobsvcv1.WorkResponse_Cancel_{
		Cancel: &jobsvcv1.WorkResponse_Cancel{JobId: id, AttemptToken: token, Reason: "by request"},
	}}
}
