package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// Job is one attempt of a job assigned to the worker.
type Job struct {
	proto    *jobsvcv1.Job
	deadline time.Time
	task     *task
	w        *Worker
	// This run's spawns without a key and sleeps so far (their replay keys), and
	// the sleeps the job recorded (read at the first Sleep).
	spawns, sleeps int
	recorded       map[string]time.Time
}

// ID is the job's id.
func (j *Job) ID() string { return j.proto.GetId() }

// Handler is the handler name.
func (j *Job) Handler() string { return j.proto.GetHandler() }

// Version is the exact handler version the job runs.
func (j *Job) Version() string { return j.proto.GetVersion() }

// Attempt counts the tries so far, this one included (1 on the first).
func (j *Job) Attempt() int32 { return j.proto.GetAttempt() }

// Labels are the job's labels.
func (j *Job) Labels() map[string]string { return j.proto.GetLabels() }

// LeaseDeadline is when the first lease of this attempt ran out; heartbeats
// extend it while the handler runs.
func (j *Job) LeaseDeadline() time.Time { return j.deadline }

// Input is the job's input payload.
func (j *Job) Input() *jobsvcv1.Payload { return j.proto.GetInput() }

// Decode decodes the job's input into out (see jobsvc.DecodePayload).
func (j *Job) Decode(out any) error { return jobsvc.DecodePayload(j.proto.GetInput(), out) }

// Proto is the job as the server assigned it.
func (j *Job) Proto() *jobsvcv1.Job { return j.proto }

// Progress reports progress (0..100) with a message; watchers of the job see a
// progress event. It is sent in the background.
func (j *Job) Progress(percent float64, message string) {
	j.report(&jobsvcv1.ReportProgressRequest{
		Update: &jobsvcv1.ReportProgressRequest_Progress{Progress: &jobsvcv1.Progress{Percent: percent, Message: message}},
	})
}

// PartialOutput streams v (see jobsvc.NewPayload) to watchers of the job before
// its result. It is sent in the background; the error is v's encoding error.
func (j *Job) PartialOutput(v any) error {
	payload, err := jobsvc.NewPayload(v)
	if err != nil {
		return err
	}
	j.report(&jobsvcv1.ReportProgressRequest{Update: &jobsvcv1.ReportProgressRequest_PartialOutput{PartialOutput: payload}})
	return nil
}

func (j *Job) report(r *jobsvcv1.ReportProgressRequest) {
	if j.task.abandoned.Load() {
		return
	}
	r.JobId, r.AttemptToken = j.task.jobID, j.task.token
	j.w.outbox.push(&jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Progress{Progress: r}})
}

// task is an assigned job the worker holds until it settles it.
type task struct {
	jobID, token string
	cancel       context.CancelCauseFunc
	// abandoned: the job must not be settled (cancelled by the server, or the
	// worker stopped before it finished).
	abandoned atomic.Bool
}

// start runs an assignment in its own goroutine, once a slot is free.
func (w *Worker) start(handlerCtx context.Context, a *jobsvcv1.Assignment) {
	job := a.GetJob()
	t := &task{jobID: job.GetId(), token: a.GetAttemptToken()}
	fn := w.funcs[handlerKey{job.GetHandler(), job.GetVersion()}]
	if fn == nil {
		err := fmt.Errorf("worker %s does not serve %s %s", w.opts.WorkerID, job.GetHandler(), job.GetVersion())
		w.outbox.settle(settlement(t, job.GetAttempt(), NewError("jobsvc.HandlerNotServed", err.Error())))
		return
	}
	ctx, cancel := context.WithCancelCause(handlerCtx)
	t.cancel = cancel
	w.mu.Lock()
	if old := w.tasks[t.jobID]; old != nil { // a new attempt replaces a stale one
		old.abandoned.Store(true)
		old.cancel(errCancelled)
	}
	w.tasks[t.jobID] = t
	w.mu.Unlock()
	j := &Job{proto: job, deadline: a.GetLeaseDeadline().AsTime(), task: t, w: w}
	go w.runTask(ctx, j, fn)
}

func (w *Worker) runTask(ctx context.Context, j *Job, fn HandlerFunc) {
	t := j.task
	defer w.release(t)
	defer t.cancel(nil)
	select {
	case w.slots <- struct{}{}:
		defer func() { <-w.slots }()
	case <-ctx.Done():
		return
	}
	if ctx.Err() != nil { // both were ready: the cancellation wins
		return
	}
	result, err := invoke(ctx, fn, j)
	if t.abandoned.Load() {
		return
	}
	var msg *jobsvcv1.WorkRequest
	if err == nil {
		payload, encErr := jobsvc.NewPayload(result)
		if encErr != nil {
			err = NonRetryable(NewError("jobsvc.EncodeError", encErr.Error()))
		} else {
			msg = &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Ack{Ack: &jobsvcv1.AckRequest{
				JobId: t.jobID, AttemptToken: t.token, Result: payload,
			}}}
		}
	}
	var parked *parkedError
	if errors.As(err, &parked) { // Wait or Sleep: the attempt ends parked, the job runs again later
		park := parked.park
		park.JobId, park.AttemptToken = t.jobID, t.token
		msg = &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Park{Park: park}}
	} else if err != nil {
		msg = settlement(t, j.Attempt(), err)
	}
	w.outbox.settle(msg)
}

// release forgets a task once it is settled (or abandoned).
func (w *Worker) release(t *task) {
	w.mu.Lock()
	if w.tasks[t.jobID] == t {
		delete(w.tasks, t.jobID)
	}
	w.mu.Unlock()
}

// cancelTask stops a job the server cancelled; it is not settled.
func (w *Worker) cancelTask(c *jobsvcv1.WorkResponse_Cancel) {
	w.mu.Lock()
	t := w.tasks[c.GetJobId()]
	if t != nil && (c.GetAttemptToken() == "" || c.GetAttemptToken() == t.token) {
		delete(w.tasks, t.jobID)
	} else {
		t = nil
	}
	w.mu.Unlock()
	if t != nil {
		t.abandoned.Store(true)
		t.cancel(fmt.Errorf("%w: %s", errCancelled, c.GetReason()))
	}
}

// invoke runs the handler, turning a panic into an error.
func invoke(ctx context.Context, fn HandlerFunc, j *Job) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: string(debug.Stack())}
		}
	}()
	return fn(ctx, j)
}
