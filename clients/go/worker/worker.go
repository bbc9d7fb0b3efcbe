package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

// HandlerFunc runs one job. Its result (any value encoding/json can marshal, or a
// protobuf message) is acknowledged; an error fails the attempt (see NonRetryable,
// Reject and RetryAfter). ctx is cancelled when the server cancels the job, its
// lease is lost, or the worker stops; the outcome is then not reported.
type HandlerFunc func(ctx context.Context, job *Job) (any, error)

// HandlerOption adds to the HandlerInfo a worker announces for a handler.
type HandlerOption func(*jobsvcv1.HandlerInfo)

// Description is the handler's human-readable description.
func Description(text string) HandlerOption {
	return func(h *jobsvcv1.HandlerInfo) { h.Description = text }
}

// InputSchema is the JSON Schema the server validates inputs against before
// enqueueing a job.
func InputSchema(schema map[string]any) HandlerOption {
	return func(h *jobsvcv1.HandlerInfo) { h.InputSchema = mustStruct(schema) }
}

// OutputSchema is the JSON Schema of the handler's result.
func OutputSchema(schema map[string]any) HandlerOption {
	return func(h *jobsvcv1.HandlerInfo) { h.OutputSchema = mustStruct(schema) }
}

// RetryPolicy is the handler's retry policy (jobs may override it field by field).
func RetryPolicy(p *jobsvcv1.RetryPolicy) HandlerOption {
	return func(h *jobsvcv1.HandlerInfo) { h.RetryPolicy = p }
}

// AttemptTimeout stops each attempt of the handler's jobs after d.
func AttemptTimeout(d time.Duration) HandlerOption {
	return func(h *jobsvcv1.HandlerInfo) { h.AttemptTimeout = durationpb.New(d) }
}

func mustStruct(m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(m)
	if err != nil {
		panic(fmt.Sprintf("worker: schema is not JSON: %v", err))
	}
	return s
}

// Options configure a Worker. The zero value works.
type Options struct {
	// WorkerID names the worker in logs and events; default "hostname:pid".
	WorkerID string
	// Concurrency is how many jobs run at once (1..1000); default 1.
	Concurrency int
	// LeaseDuration is the lease length asked for; 0: the server's default (30 s).
	LeaseDuration time.Duration
	// Labels describe the worker.
	Labels map[string]string
	// StopTimeout bounds how long Run waits for running handlers, and for the
	// server to confirm their settlements, once its context is cancelled; default
	// 10 s. Handlers still running then are cancelled and their jobs left to the
	// server, which requeues them when their leases end.
	StopTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before re-opening a failed stream;
	// defaults 200 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives connection and settlement problems; default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.WorkerID == "" {
		host, _ := os.Hostname()
		o.WorkerID = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 10 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(10*time.Second, o.MinBackoff)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

type handlerKey struct{ name, version string }

// Worker serves handlers to a jobsvc server. Register handlers with Handle, then
// call Run.
type Worker struct {
	ack    jobsvcv1.AckServiceClient
	owned  *jobsvc.Client
	opts   Options
	log    *slog.Logger
	funcs  map[handlerKey]HandlerFunc
	infos  []*jobsvcv1.HandlerInfo
	outbox *outbox
	slots  chan struct{}

	// Spawn and children requests waiting for their answers.
	asking asking

	mu      sync.Mutex
	tasks   map[string]*task
	running atomic.Bool
}

// New makes a worker that talks to the server through client.
func New(client *jobsvc.Client, opts Options) *Worker {
	opts = opts.withDefaults()
	return &Worker{
		ack:    jobsvcv1.NewAckServiceClient(client.Conn()),
		opts:   opts,
		log:    opts.Logger.With("worker_id", opts.WorkerID),
		funcs:  map[handlerKey]HandlerFunc{},
		outbox: newOutbox(),
		slots:  make(chan struct{}, opts.Concurrency),
		tasks:  map[string]*task{},
		asking: asking{pending: map[string]*asked{}},
	}
}

// Dial connects to the server at address and makes a worker; Close closes the
// connection.
func Dial(ctx context.Context, address string, opts Options, dialOpts ...jobsvc.Option) (*Worker, error) {
	client, err := jobsvc.Dial(ctx, address, dialOpts...)
	if err != nil {
		return nil, err
	}
	w := New(client, opts)
	w.owned = client
	return w, nil
}

// Close closes the connection a worker made with Dial (nothing for New).
func (w *Worker) Close() error {
	if w.owned == nil {
		return nil
	}
	return w.owned.Close()
}

// Handle serves fn for one exact handler version ("1.0.0"). It panics when
// called while the worker runs, or twice for the same version.
func (w *Worker) Handle(name, version string, fn HandlerFunc, opts ...HandlerOption) {
	if w.running.Load() {
		panic("worker: Handle called while the worker runs")
	}
	key := handlerKey{name, version}
	if _, dup := w.funcs[key]; dup {
		panic(fmt.Sprintf("worker: %s %s is already handled", name, version))
	}
	info := &jobsvcv1.HandlerInfo{Name: name, Version: version}
	for _, opt := range opts {
		opt(info)
	}
	w.funcs[key] = fn
	w.infos = append(w.infos, info)
}

// Run serves the handlers until ctx is cancelled, re-opening the stream with
// backoff when it fails; settlements the server has not confirmed when a stream
// fails go again first on the next one. On cancellation it drains: asks the
// server for no more jobs, waits up to Options.StopTimeout for running handlers
// to finish and their reports to be confirmed, and returns nil. It returns an error at once when the server refuses
// the worker (INVALID_ARGUMENT, UNIMPLEMENTED, UNAUTHENTICATED, PERMISSION_DENIED).
func (w *Worker) Run(ctx context.Context) error {
	if len(w.funcs) == 0 {
		return errors.New("worker: no handlers")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("worker: already running")
	}
	defer w.running.Store(false)
	handlerCtx, stopHandlers := context.WithCancelCause(context.Background())
	defer stopHandlers(errStopping)

	failures := 0
	for {
		s := &session{w: w, handlerCtx: handlerCtx}
		err := s.run(ctx)
		if ctx.Err() != nil {
			w.abandon(stopHandlers)
			return nil
		}
		if permanent(err) {
			w.abandon(stopHandlers)
			return fmt.Errorf("worker: the server refused the worker: %w", err)
		}
		if s.welcomed {
			failures = 0
		}
		failures++
		delay := w.backoff(failures)
		w.log.Warn("jobsvc worker stream failed; reconnecting", "error", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			w.abandon(stopHandlers)
			return nil
		case <-time.After(delay):
		}
	}
}

// abandon cancels the handlers still running; their jobs are not settled.
func (w *Worker) abandon(stopHandlers context.CancelCauseFunc) {
	w.mu.Lock()
	for _, t := range w.tasks {
		t.abandoned.Store(true)
	}
	w.mu.Unlock()
	stopHandlers(errStopping)
}

func (w *Worker) backoff(n int) time.Duration {
	d := w.opts.MinBackoff
	for i := 1; i < n && d < w.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.opts.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// permanent errors are not cured by reconnecting.
func permanent(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.Unimplemented, codes.Unauthenticated, codes.PermissionDenied:
		return true
	}
	return false
}

// hello is the first message of a session.
func (w *Worker) hello() *jobsvcv1.WorkRequest {
	info := &jobsvcv1.WorkerInfo{
		WorkerId: w.opts.WorkerID, Handlers: w.infos,
		Concurrency: int32(w.opts.Concurrency), Labels: w.opts.Labels,
		AcceptsBatches: true, // assignments and outcomes may come many per message
	}
	if w.opts.LeaseDuration > 0 {
		info.LeaseDuration = durationpb.New(w.opts.LeaseDuration)
	}
	return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Hello{Hello: info}}
}

// heartbeat lists the leases the worker holds.
func (w *Worker) heartbeat() *jobsvcv1.WorkRequest {
	w.mu.Lock()
	leases := make([]*jobsvcv1.LeaseRef, 0, len(w.tasks))
	for _, t := range w.tasks {
		leases = append(leases, &jobsvcv1.LeaseRef{JobId: t.jobID, AttemptToken: t.token})
	}
	w.mu.Unlock()
	return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Heartbeat{
		Heartbeat: &jobsvcv1.HeartbeatRequest{WorkerId: w.opts.WorkerID, Leases: leases},
	}}
}

// busy counts the jobs the worker holds (running or waiting for a slot).
func (w *Worker) busy() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.tasks)
}
