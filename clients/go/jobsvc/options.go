package jobsvc

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Option configures a Client at Dial.
type Option func(*config)

type config struct {
	creds          credentials.TransportCredentials
	token          string
	defaultTimeout time.Duration
	retry          *RetryPolicy
	dialOptions    []grpc.DialOption
	block          bool
	resume         ResumePolicy
}

func newConfig(opts []Option) *config {
	retry := DefaultRetryPolicy
	cfg := &config{retry: &retry, resume: DefaultResumePolicy}
	for _, opt := range opts {
		opt(cfg)
	}
	return cfg
}

// WithTLS makes the connection use these transport credentials (for example
// credentials.NewTLS(&tls.Config{})). Without it the connection is plaintext.
func WithTLS(creds credentials.TransportCredentials) Option {
	return func(c *config) { c.creds = creds }
}

// WithBearerToken sends `authorization: Bearer <token>` with every RPC. When TLS
// is configured the token is only ever sent over it; over a plaintext connection
// it travels in the clear, which suits local development only.
func WithBearerToken(token string) Option {
	return func(c *config) { c.token = token }
}

// WithDefaultTimeout gives unary RPCs (Submit, Call, Get, ...) this deadline when
// their context has none. Streams are long-lived and never get one.
func WithDefaultTimeout(d time.Duration) Option {
	return func(c *config) { c.defaultTimeout = d }
}

// WithRetryPolicy replaces DefaultRetryPolicy: the gRPC retry policy (set through
// the service config) for the idempotent methods GetJob, ListJobs and ListHandlers.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *config) { c.retry = &p }
}

// WithoutRetries turns off the gRPC retry policy of the idempotent methods.
func WithoutRetries() Option {
	return func(c *config) { c.retry = nil }
}

// WithStreamResume replaces DefaultResumePolicy: how Stream resumes after a dropped
// connection.
func WithStreamResume(p ResumePolicy) Option {
	return func(c *config) { c.resume = p }
}

// WithDialOptions adds gRPC dial options (interceptors, keepalive, a resolver...).
// They are applied after the ones this package derives from the other options.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) { c.dialOptions = append(c.dialOptions, opts...) }
}

// WithBlock makes Dial connect at once and wait, within its context, until the
// connection is ready. By default Dial returns at once and connects on first use.
func WithBlock() Option {
	return func(c *config) { c.block = true }
}

// bearerToken is per-RPC credentials sending a fixed bearer token.
type bearerToken struct {
	token  string
	secure bool
}

// GetRequestMetadata is the authorization header.
func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity is true when TLS is configured: the token never goes out without it then.
func (b bearerToken) RequireTransportSecurity() bool { return b.secure }

// timeoutInterceptor gives unary RPCs without a deadline the default one.
func timeoutInterceptor(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption,
	) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
