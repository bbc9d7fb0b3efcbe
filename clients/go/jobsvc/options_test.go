package jobsvc

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// fakeJobs is a JobService that fails GetJob with UNAVAILABLE `failures` times and
// records what the last request carried.
type fakeJobs struct {
	jobsvcv1.UnimplementedJobServiceServer
	failures atomic.Int32
	calls    atomic.Int32
	auth     atomic.Value // string
	deadline atomic.Bool
}

func (f *fakeJobs) GetJob(ctx context.Context, req *jobsvcv1.GetJobRequest) (*jobsvcv1.GetJobResponse, error) {
	f.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	f.auth.Store(append(md.Get("authorization"), "")[0])
	_, hasDeadline := ctx.Deadline()
	f.deadline.Store(hasDeadline)
	if f.failures.Add(-1) >= 0 {
		return nil, status.Error(codes.Unavailable, "try again")
	}
	return &jobsvcv1.GetJobResponse{Job: &jobsvcv1.Job{Id: req.GetId()}}, nil
}

func (f *fakeJobs) CancelJob(context.Context, *jobsvcv1.CancelJobRequest) (*jobsvcv1.CancelJobResponse, error) {
	f.calls.Add(1)
	return nil, status.Error(codes.Unavailable, "down")
}

func startFake(t *testing.T, fake *fakeJobs) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	jobsvcv1.RegisterJobServiceServer(srv, fake)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestRetryTokenAndDefaultTimeout(t *testing.T) {
	t.Parallel()
	fake := &fakeJobs{}
	fake.failures.Store(2)
	ctx := context.Background()
	c, err := Dial(ctx, startFake(t, fake), WithBearerToken("s3cret"), WithDefaultTimeout(5*time.Second), WithBlock())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	job, err := c.Get(ctx, "j1")
	if err != nil || job.GetId() != "j1" {
		t.Fatalf("Get: %v %v", job, err)
	}
	if n := fake.calls.Load(); n != 3 {
		t.Errorf("GetJob called %d times, want 3 (two retries)", n)
	}
	if got := fake.auth.Load(); got != "Bearer s3cret" {
		t.Errorf("authorization %q", got)
	}
	if !fake.deadline.Load() {
		t.Error("the default timeout gave no deadline")
	}
	// CancelJob is not idempotent: it is not retried.
	fake.calls.Store(0)
	if _, err := c.Cancel(ctx, "j1", ""); status.Code(err) != codes.Unavailable || fake.calls.Load() != 1 {
		t.Errorf("Cancel: %v after %d calls", err, fake.calls.Load())
	}
}

func TestWithoutRetries(t *testing.T) {
	t.Parallel()
	fake := &fakeJobs{}
	fake.failures.Store(1)
	c, err := Dial(context.Background(), startFake(t, fake), WithoutRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Get(context.Background(), "j1"); status.Code(err) != codes.Unavailable {
		t.Errorf("got %v, want UNAVAILABLE", err)
	}
	if fake.deadline.Load() {
		t.Error("no default timeout was set, yet the RPC had a deadline")
	}
}

func TestDialBlockTimesOut(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, addr, WithBlock()); err == nil {
		t.Error("Dial with WithBlock to a closed port succeeded")
	}
}
