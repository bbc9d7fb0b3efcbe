package jobsvc

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// JobIDMetadata is the response metadata key carrying the job id of Call and
// Stream, sent before the job finishes.
const JobIDMetadata = "jobsvc-job-id"

// Client is one connection to a jobsvc server (or a balancer in front of
// several). It is safe for concurrent use.
type Client struct {
	conn       *grpc.ClientConn
	submit     jobsvcv1.SubmitServiceClient
	call       jobsvcv1.CallServiceClient
	stream     jobsvcv1.StreamServiceClient
	jobs       jobsvcv1.JobServiceClient
	pauses     jobsvcv1.PauseServiceClient
	operations jobsvcv1.OperationServiceClient
	workflows  jobsvcv1.WorkflowServiceClient
	resume     ResumePolicy
}

// Dial connects to a jobsvc server at address ("host:port", or any gRPC target).
// The connection is made lazily unless WithBlock is given, in which case Dial
// waits for it within ctx.
func Dial(ctx context.Context, address string, opts ...Option) (*Client, error) {
	cfg := newConfig(opts)
	conn, err := grpc.NewClient(address, cfg.grpcOptions()...)
	if err != nil {
		return nil, fmt.Errorf("jobsvc: dial %s: %w", address, err)
	}
	if cfg.block {
		if err := waitReady(ctx, conn); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("jobsvc: dial %s: %w", address, err)
		}
	}
	return &Client{
		conn:       conn,
		submit:     jobsvcv1.NewSubmitServiceClient(conn),
		call:       jobsvcv1.NewCallServiceClient(conn),
		stream:     jobsvcv1.NewStreamServiceClient(conn),
		jobs:       jobsvcv1.NewJobServiceClient(conn),
		pauses:     jobsvcv1.NewPauseServiceClient(conn),
		operations: jobsvcv1.NewOperationServiceClient(conn),
		workflows:  jobsvcv1.NewWorkflowServiceClient(conn),
		resume:     cfg.resume,
	}, nil
}

func (c *config) grpcOptions() []grpc.DialOption {
	var opts []grpc.DialOption
	if c.creds != nil {
		opts = append(opts, grpc.WithTransportCredentials(c.creds))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if c.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken{token: c.token, secure: c.creds != nil}))
	}
	if c.defaultTimeout > 0 {
		opts = append(opts, grpc.WithChainUnaryInterceptor(timeoutInterceptor(c.defaultTimeout)))
	}
	if c.retry != nil {
		opts = append(opts, grpc.WithDefaultServiceConfig(c.retry.serviceConfig()))
	} else {
		opts = append(opts, grpc.WithDisableRetry())
	}
	return append(opts, c.dialOptions...)
}

func waitReady(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		state := conn.GetState()
		if state == connectivity.Ready {
			return nil
		}
		if !conn.WaitForStateChange(ctx, state) {
			return fmt.Errorf("not ready (%s): %w", state, ctx.Err())
		}
	}
}

// Conn is the underlying gRPC connection, for the generated clients of package
// jobsvcv1 (the remote-worker library uses it for AckService).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection; RPCs in flight fail with CANCELED.
func (c *Client) Close() error { return c.conn.Close() }
