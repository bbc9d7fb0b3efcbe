package worker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// Child jobs and durable sleep (children.proto): a handler spawns child jobs
// with Job.Spawn and waits for them with Job.Wait, or sleeps with Job.Sleep,
// without holding its slot or lease while it waits. Wait and Sleep return an
// error the handler must return as it is (check it with IsParked): the attempt
// then ends parked, and the job runs again from the start once its children
// have finished or its sleep is over. That run replays: a spawn under the same
// key (by default its order in the run) returns the child spawned before, Wait
// on finished children returns their results, and a sleep that is over returns
// at once. Spawn, Wait and Sleep from the handler's own goroutine, in the same
// order on every run (or give keys with SpawnKey).

// Child is a child job a handler spawned.
type Child struct {
	ID, Key, Handler string
}

// SpawnOption adjusts a child job's spec or its key.
type SpawnOption func(*jobsvcv1.SpawnRequest)

// SpawnKey names the child among the job's children (default: the spawn's
// order in this run, "0", "1", ...).
func SpawnKey(key string) SpawnOption {
	return func(r *jobsvcv1.SpawnRequest) { r.SpawnKey = key }
}

// SpawnVersion selects the child's handler version (default: the newest).
func SpawnVersion(selector string) SpawnOption {
	return func(r *jobsvcv1.SpawnRequest) { r.Job.Version = selector }
}

// SpawnLabels sets the child's labels.
func SpawnLabels(labels map[string]string) SpawnOption {
	return func(r *jobsvcv1.SpawnRequest) { r.Job.Labels = labels }
}

// parkedError unwinds a handler that waits: runTask settles the attempt as parked.
type parkedError struct{ park *jobsvcv1.ParkRequest }

func (e *parkedError) Error() string {
	return "worker: the job parked (return this error from the handler)"
}

// IsParked reports whether err is Wait's or Sleep's "parked" error, which the
// handler must return unchanged.
func IsParked(err error) bool {
	var p *parkedError
	return errors.As(err, &p)
}

// ChildFailedError is Wait's error for a child that FAILED or was CANCELLED;
// returned by the handler, it fails the parent's attempt (type jobsvc.ChildJobFailed).
type ChildFailedError struct {
	Child Child
	Job   *jobsvcv1.Job
}

func (e *ChildFailedError) Error() string {
	what := e.Job.GetState().String()
	if err := e.Job.GetError(); err != nil {
		what = err.GetType() + ": " + err.GetMessage()
	}
	return fmt.Sprintf("child job %q (%s, %s) %s", e.Child.Key, e.Child.Handler, e.Child.ID, what)
}

// ErrorType is the job error's type.
func (e *ChildFailedError) ErrorType() string { return "jobsvc.ChildJobFailed" }

// SpawnRefusedError is Spawn's error when the server refuses the child as it
// would refuse a Submit of it: an unknown handler or version (Code 5,
// NOT_FOUND), input its schema rejects (3, INVALID_ARGUMENT). Returned by the
// handler, it fails the parent at once (type jobsvc.SpawnRefused).
type SpawnRefusedError struct {
	Code                   int32
	Reason, Message, Field string
}

func (e *SpawnRefusedError) Error() string { return e.Message }

// ErrorType is the job error's type.
func (e *SpawnRefusedError) ErrorType() string { return "jobsvc.SpawnRefused" }

// Spawn submits a child job of this job (durably, before it returns).
func (j *Job) Spawn(ctx context.Context, handler string, input any, opts ...SpawnOption) (Child, error) {
	payload, err := jobsvc.NewPayload(input)
	if err != nil {
		return Child{}, err
	}
	req := &jobsvcv1.SpawnRequest{
		RequestId: rand.Text(), JobId: j.task.jobID, AttemptToken: j.task.token,
		Job: &jobsvcv1.JobSpec{Handler: handler, Input: payload},
	}
	for _, opt := range opts {
		opt(req)
	}
	if req.SpawnKey == "" {
		req.SpawnKey = strconv.Itoa(j.spawns)
		j.spawns++
	}
	resp, err := j.w.ask(ctx, req.RequestId, &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Spawn{Spawn: req}})
	if err != nil {
		return Child{}, err
	}
	spawned := resp.GetSpawned()
	if c := spawned.GetCode(); c == 14 || c == 10 { // UNAVAILABLE, ABORTED: nothing was written, retry the attempt
		return Child{}, fmt.Errorf("worker: spawning %s failed for now: %s", handler, spawned.GetMessage())
	}
	if spawned.GetCode() != 0 {
		return Child{}, NonRetryable(&SpawnRefusedError{
			Code: spawned.GetCode(), Reason: spawned.GetReason(), Message: spawned.GetMessage(), Field: spawned.GetField(),
		})
	}
	return Child{ID: spawned.GetChildJobId(), Key: req.SpawnKey, Handler: handler}, nil
}

// Wait returns the children's results in order once all have finished. While
// one has not, it returns the "parked" error (IsParked): return it from the
// handler. A child that FAILED or was CANCELLED is a *ChildFailedError.
func (j *Job) Wait(ctx context.Context, children []Child) ([]*jobsvcv1.Payload, error) {
	if len(children) == 0 {
		return nil, nil
	}
	ids := make([]string, len(children))
	for i, c := range children {
		ids[i] = c.ID
	}
	read, err := j.read(ctx, ids)
	if err != nil {
		return nil, err
	}
	found := map[string]*jobsvcv1.Job{}
	for _, job := range read.GetChildren() {
		found[job.GetId()] = job
	}
	var unfinished []string
	for _, c := range children {
		if job := found[c.ID]; job != nil && !terminal(job.GetState()) {
			unfinished = append(unfinished, c.ID)
		}
	}
	if len(unfinished) > 0 {
		return nil, &parkedError{&jobsvcv1.ParkRequest{ChildJobIds: unfinished}}
	}
	results := make([]*jobsvcv1.Payload, len(children))
	for i, c := range children {
		job := found[c.ID]
		if job == nil {
			return nil, fmt.Errorf("worker: job %s is not a child of job %s", c.ID, j.ID())
		}
		if job.GetState() != jobsvcv1.JobState_JOB_STATE_SUCCEEDED {
			return nil, &ChildFailedError{Child: c, Job: job}
		}
		results[i] = job.GetResult()
	}
	return results, nil
}

// Sleep sleeps durably: it returns the "parked" error (IsParked), to return
// from the handler, and the job runs again when the sleep is over, on any
// worker, across restarts; on that run Sleep returns nil at once. The end is
// recorded when the sleep starts, so a replay never sleeps longer.
func (j *Job) Sleep(ctx context.Context, d time.Duration) error {
	key := "sleep:" + strconv.Itoa(j.sleeps)
	j.sleeps++
	if j.recorded == nil {
		read, err := j.read(ctx, nil)
		if err != nil {
			return err
		}
		j.recorded = map[string]time.Time{}
		for k, ends := range read.GetSleeps() {
			j.recorded[k] = ends.AsTime()
		}
	}
	ends, ok := j.recorded[key]
	if ok && !ends.After(time.Now()) {
		return nil
	}
	if !ok {
		ends = time.Now().Add(d)
	}
	return &parkedError{&jobsvcv1.ParkRequest{SleepKey: key, Until: timestamppb.New(ends)}}
}

// read asks for children (and the recorded sleeps) of this job.
func (j *Job) read(ctx context.Context, ids []string) (*jobsvcv1.ChildrenResponse, error) {
	req := &jobsvcv1.ChildrenRequest{RequestId: rand.Text(), JobId: j.task.jobID, AttemptToken: j.task.token, ChildJobIds: ids}
	resp, err := j.w.ask(ctx, req.RequestId, &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Children{Children: req}})
	if err != nil {
		return nil, err
	}
	answer := resp.GetChildren()
	if answer.GetCode() != 0 {
		return nil, fmt.Errorf("worker: reading the children of job %s: %s %s", j.ID(), answer.GetReason(), answer.GetMessage())
	}
	return answer, nil
}

func terminal(s jobsvcv1.JobState) bool {
	switch s {
	case jobsvcv1.JobState_JOB_STATE_SUCCEEDED, jobsvcv1.JobState_JOB_STATE_FAILED, jobsvcv1.JobState_JOB_STATE_CANCELLED:
		return true
	}
	return false
}

// asking holds the spawn and children requests the server has not answered:
// sent again on the next stream after a break (a spawn is idempotent by key).
type asking struct {
	mu      sync.Mutex
	pending map[string]*asked
}

type asked struct {
	msg    *jobsvcv1.WorkRequest
	answer chan *jobsvcv1.WorkResponse
}

// ask sends a request the server answers by request id, and waits for the answer.
func (w *Worker) ask(ctx context.Context, id string, msg *jobsvcv1.WorkRequest) (*jobsvcv1.WorkResponse, error) {
	a := &asked{msg: msg, answer: make(chan *jobsvcv1.WorkResponse, 1)}
	w.asking.mu.Lock()
	w.asking.pending[id] = a
	w.asking.mu.Unlock()
	defer func() {
		w.asking.mu.Lock()
		delete(w.asking.pending, id)
		w.asking.mu.Unlock()
	}()
	w.outbox.push(msg)
	select {
	case resp := <-a.answer:
		return resp, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// answered hands the server's answer to the request that asked for it.
func (w *Worker) answered(id string, resp *jobsvcv1.WorkResponse) {
	w.asking.mu.Lock()
	a := w.asking.pending[id]
	w.asking.mu.Unlock()
	if a != nil {
		select {
		case a.answer <- resp:
		default:
		}
	}
}

// askAgain puts the unanswered requests back in the outbox (a new stream).
func (w *Worker) askAgain() {
	w.asking.mu.Lock()
	msgs := make([]*jobsvcv1.WorkRequest, 0, len(w.asking.pending))
	for _, a := range w.asking.pending {
		msgs = append(msgs, a.msg)
	}
	w.asking.mu.Unlock()
	w.outbox.pushFront(msgs...)
}
