package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

const (
	defaultHeartbeat = 10 * time.Second
	// closeTimeout bounds the wait for the server to end the stream after the
	// worker has hung up.
	closeTimeout = 5 * time.Second
)

// errServerEnded is a stream the server closed while the worker was not stopping.
var errServerEnded = errors.New("worker: the server ended the session")

type workStream = grpc.BidiStreamingClient[jobsvcv1.WorkRequest, jobsvcv1.WorkResponse]

// session is one Work stream.
type session struct {
	w          *Worker
	handlerCtx context.Context
	welcomed   bool
	// batches: this session's welcome says the server reads WorkRequest.batch,
	// of at most maxMessage bytes. Until then (and on servers that predate
	// batches) every message goes alone.
	batches    bool
	maxMessage int64
}

// run opens the stream and serves it until it fails (the error) or ctx is
// cancelled (a graceful drain, then nil).
func (s *session) run(ctx context.Context) error {
	w := s.w
	w.outbox.rewind() // what an earlier stream may have lost goes first
	w.askAgain()      // and the spawns and reads it left unanswered
	// The stream is not bound to ctx: on cancellation it must stay up to drain.
	streamCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := w.ack.Work(streamCtx)
	if err != nil {
		return err
	}
	// Cancelled before the session is up, there is nothing to drain: abort.
	stop := context.AfterFunc(ctx, cancel)
	hb, err := s.open(stream)
	stop()
	if err != nil {
		return err
	}
	s.welcomed = true

	received := make(chan error, 1)
	go func() { received <- s.receive(stream) }()
	closing := make(chan struct{})
	sent := make(chan error, 1)
	go func() { sent <- s.send(streamCtx, stream, hb, closing) }()

	select {
	case err := <-received:
		cancel()
		<-sent
		return err
	case err := <-sent:
		// A failed Send says only EOF: the receiver has the stream's real error.
		select {
		case rerr := <-received:
			if rerr != nil && !errors.Is(rerr, errServerEnded) {
				err = rerr
			}
		case <-time.After(time.Second):
			cancel()
			<-received
		}
		return err
	case <-ctx.Done():
	}
	return s.drain(cancel, closing, received, sent)
}

// open sends hello (and the leases still held from an earlier session) and
// reads the welcome; it returns the heartbeat interval.
func (s *session) open(stream workStream) (time.Duration, error) {
	if err := stream.Send(s.w.hello()); err != nil {
		return 0, recvError(stream, err)
	}
	if s.w.busy() > 0 {
		if err := stream.Send(s.w.heartbeat()); err != nil {
			return 0, recvError(stream, err)
		}
	}
	resp, err := stream.Recv()
	if err != nil {
		return 0, err
	}
	welcome := resp.GetWelcome()
	if welcome == nil {
		return 0, fmt.Errorf("worker: the server's first message is not welcome: %v", resp)
	}
	s.w.log.Debug("jobsvc worker session open", "session_id", welcome.GetSessionId(),
		"accepts_batches", welcome.GetAcceptsBatches())
	s.batches = welcome.GetAcceptsBatches() && welcome.GetMaxMessageBytes() > 0
	s.maxMessage = welcome.GetMaxMessageBytes()
	if d := welcome.GetHeartbeatInterval().AsDuration(); d > 0 {
		return d, nil
	}
	return defaultHeartbeat, nil
}

// recvError is the stream's real error after a failed Send (which says only
// EOF); only for use before the receiver goroutine starts.
func recvError(stream workStream, sendErr error) error {
	if _, err := stream.Recv(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return sendErr
}

// receive handles the server's messages until the stream ends.
func (s *session) receive(stream workStream) error {
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return errServerEnded
		}
		if err != nil {
			return err
		}
		switch kind := resp.GetKind().(type) {
		case *jobsvcv1.WorkResponse_Assignment:
			s.w.start(s.handlerCtx, kind.Assignment)
		case *jobsvcv1.WorkResponse_Assignments_:
			for _, a := range kind.Assignments.GetItems() {
				s.w.start(s.handlerCtx, a)
			}
		case *jobsvcv1.WorkResponse_Cancel_:
			s.w.cancelTask(kind.Cancel)
		case *jobsvcv1.WorkResponse_Settled_:
			s.settled(kind.Settled)
		case *jobsvcv1.WorkResponse_SettledBatch_:
			for _, st := range kind.SettledBatch.GetItems() {
				s.settled(st)
			}
		case *jobsvcv1.WorkResponse_Spawned:
			s.w.answered(kind.Spawned.GetRequestId(), resp)
		case *jobsvcv1.WorkResponse_Children:
			s.w.answered(kind.Children.GetRequestId(), resp)
		}
	}
}

// settled is the server's outcome of one report: the settlement it answers is
// confirmed (refused or not, the server has it); refusals are logged.
func (s *session) settled(st *jobsvcv1.WorkResponse_Settled) {
	s.w.outbox.confirm(st.GetJobId(), st.GetAttemptToken())
	if st.GetCode() != 0 {
		s.w.log.Warn("jobsvc refused a report", "job_id", st.GetJobId(),
			"code", st.GetCode(), "reason", st.GetReason(), "message", st.GetMessage())
	}
}

// send writes the outbox and the heartbeats to the stream. Once closing is
// closed it flushes the outbox, hangs up (CloseSend) and returns nil.
func (s *session) send(ctx context.Context, stream workStream, interval time.Duration, closing <-chan struct{}) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := s.flush(stream); err != nil {
			return err // the receiver sees why the stream ended
		}
		select {
		case <-s.w.outbox.ready:
		case <-ticker.C:
			if err := stream.Send(s.w.heartbeat()); err != nil {
				return err
			}
		case <-closing:
			if s.w.outbox.empty() {
				return stream.CloseSend()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// flush sends what is in the outbox. When the server accepts batches, what is
// ready is taken at once and consecutive settlements and progress reports go as
// one batch; nothing waits for more. What was taken but not tried is put back;
// the settlements of a failed send are still unconfirmed, and the next stream
// sends them again (see outbox.rewind).
func (s *session) flush(stream workStream) error {
	if !s.batches {
		for m, ok := s.w.outbox.take(); ok; m, ok = s.w.outbox.take() {
			if err := stream.Send(m); err != nil {
				return err
			}
		}
		return nil
	}
	for ready := s.w.outbox.takeReady(maxBatch); len(ready) > 0; ready = s.w.outbox.takeReady(maxBatch) {
		out := coalesce(ready, s.maxMessage)
		for i, o := range out {
			if err := stream.Send(o.msg); err != nil {
				var untried []*jobsvcv1.WorkRequest
				for _, later := range out[i+1:] {
					untried = append(untried, later.originals...)
				}
				s.w.outbox.pushFront(untried...)
				return err
			}
		}
	}
	return nil
}

// drain stops the session gracefully: no more assignments, running handlers
// get StopTimeout to finish and report, and their settlements to be confirmed
// by the server, then the worker hangs up.
func (s *session) drain(cancel context.CancelFunc, closing chan struct{}, received, sent <-chan error) error {
	w := s.w
	w.outbox.push(&jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Drain_{Drain: &jobsvcv1.WorkRequest_Drain{}}})
	deadline := time.Now().Add(w.opts.StopTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for (w.busy() > 0 || w.outbox.unconfirmedCount() > 0) && time.Now().Before(deadline) {
		select {
		case err := <-received: // the stream broke: nothing more can be reported
			cancel()
			<-sent
			return err
		case <-tick.C:
		}
	}
	if n, u := w.busy(), w.outbox.unconfirmedCount(); n > 0 || u > 0 {
		w.log.Warn("jobsvc worker stopping with handlers still running or settlements unconfirmed;"+
			" the server retries the jobs whose attempts it has not settled", "jobs", n, "unconfirmed", u)
	}
	close(closing)
	timeout := time.NewTimer(closeTimeout)
	defer timeout.Stop()
	select {
	case err := <-sent:
		if err == nil {
			select { // the server ends the stream once the worker has hung up
			case <-received:
			case <-timeout.C:
			}
		}
	case <-received:
	case <-timeout.C:
	}
	cancel()
	return nil
}
