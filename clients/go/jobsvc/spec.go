package jobsvc

import (
	"maps"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// JobOption sets a field of the JobSpec that Submit, Call and SubmitAndStream send.
type JobOption func(*jobsvcv1.JobSpec)

// NewSpec builds a JobSpec, for SubmitBatch: handler, input (see NewPayload) and
// options.
func NewSpec(handler string, input any, opts ...JobOption) (*jobsvcv1.JobSpec, error) {
	payload, err := NewPayload(input)
	if err != nil {
		return nil, err
	}
	spec := &jobsvcv1.JobSpec{Handler: handler, Input: payload}
	for _, opt := range opts {
		opt(spec)
	}
	return spec, nil
}

// Version selects the handler version: exact ("1.4.0"), caret ("^1.4"), tilde
// ("~1.4"), comparators (">=1.2 <2"), alternatives ("^1 || ^2"). Empty (the
// default) selects the newest release.
func Version(selector string) JobOption {
	return func(s *jobsvcv1.JobSpec) { s.Version = selector }
}

// Priority orders due jobs: higher runs first (-1000..1000, default 0).
func Priority(p int32) JobOption {
	return func(s *jobsvcv1.JobSpec) { s.Priority = p }
}

// IdempotencyKey makes a repeated submit with the same key return the same job.
func IdempotencyKey(key string) JobOption {
	return func(s *jobsvcv1.JobSpec) { s.IdempotencyKey = key }
}

// Labels adds free-form labels, returned on the job.
func Labels(labels map[string]string) JobOption {
	return func(s *jobsvcv1.JobSpec) {
		if s.Labels == nil {
			s.Labels = make(map[string]string, len(labels))
		}
		maps.Copy(s.Labels, labels)
	}
}

// Delay runs the job no sooner than d from now. It excludes RunAt.
func Delay(d time.Duration) JobOption {
	return func(s *jobsvcv1.JobSpec) { s.Delay = durationpb.New(d) }
}

// RunAt runs the job no sooner than t. It excludes Delay.
func RunAt(t time.Time) JobOption {
	return func(s *jobsvcv1.JobSpec) { s.RunAt = timestamppb.New(t) }
}

// AttemptTimeout stops each attempt (which then counts as failed) after d.
func AttemptTimeout(d time.Duration) JobOption {
	return func(s *jobsvcv1.JobSpec) { s.AttemptTimeout = durationpb.New(d) }
}

// MaxAttempts overrides the handler's retry policy: attempts in all, including
// the first (1: no retries).
func MaxAttempts(n int32) JobOption {
	return func(s *jobsvcv1.JobSpec) {
		if s.RetryPolicy == nil {
			s.RetryPolicy = &jobsvcv1.RetryPolicy{}
		}
		s.RetryPolicy.MaximumAttempts = n
	}
}
