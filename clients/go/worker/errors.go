package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// errStopping is the cancellation cause of handlers when the worker stops.
var errStopping = errors.New("worker: stopping")

// errCancelled is the cancellation cause of a handler whose job the server cancelled.
var errCancelled = errors.New("worker: job cancelled by the server")

// Error is a handler error with an explicit type, reported as JobError.type (as
// a Python handler reports its exception class, e.g. "ValueError").
type Error struct {
	Type    string
	Message string
}

// NewError returns an *Error.
func NewError(typ, message string) *Error { return &Error{Type: typ, Message: message} }

// Error is the message.
func (e *Error) Error() string { return e.Message }

// ErrorType is the type the job's error reports.
func (e *Error) ErrorType() string { return e.Type }

// NonRetryable marks err so that the job fails at once, whatever its retry policy.
func NonRetryable(err error) error { return &nonRetryableError{err} }

// Reject marks err so that the job is dead-lettered (FAILED) at once, as a job
// the worker will never be able to run.
func Reject(err error) error { return &rejectError{err} }

// RetryAfter marks err so that, if the job is retried, the next attempt comes
// after d instead of the retry policy's backoff.
func RetryAfter(err error, d time.Duration) error { return &retryAfterError{err, d} }

type nonRetryableError struct{ err error }

func (e *nonRetryableError) Error() string { return e.err.Error() }
func (e *nonRetryableError) Unwrap() error { return e.err }

type rejectError struct{ err error }

func (e *rejectError) Error() string { return e.err.Error() }
func (e *rejectError) Unwrap() error { return e.err }

type retryAfterError struct {
	err   error
	delay time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// panicError is a handler that panicked.
type panicError struct {
	value any
	stack string
}

func (e *panicError) Error() string     { return fmt.Sprintf("panic: %v", e.value) }
func (e *panicError) ErrorType() string { return "panic" }

// settlement is the nack or reject message of a handler error.
func settlement(t *task, attempt int32, err error) *jobsvcv1.WorkRequest {
	jobErr := &jobsvcv1.JobError{Type: errorType(err), Message: err.Error(), Attempt: attempt}
	var p *panicError
	if errors.As(err, &p) {
		jobErr.Traceback = p.stack
	}
	var nr *nonRetryableError
	jobErr.NonRetryable = errors.As(err, &nr)
	if rj := (*rejectError)(nil); errors.As(err, &rj) {
		return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Reject{Reject: &jobsvcv1.RejectRequest{
			JobId: t.jobID, AttemptToken: t.token, Error: jobErr,
		}}}
	}
	nack := &jobsvcv1.NackRequest{JobId: t.jobID, AttemptToken: t.token, Error: jobErr}
	if ra := (*retryAfterError)(nil); errors.As(err, &ra) {
		nack.RetryDelay = durationpb.New(ra.delay)
	}
	return &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Nack{Nack: nack}}
}

// errorType names an error for JobError.type: the ErrorType() of the first error
// in the chain that has one, else context.Canceled / context.DeadlineExceeded,
// else the Go type of the error under this package's wrappers
// ("errors.errorString", "*fs.PathError" is "fs.PathError").
func errorType(err error) string {
	var typed interface{ ErrorType() string }
	switch {
	case errors.As(err, &typed):
		return typed.ErrorType()
	case errors.Is(err, context.Canceled):
		return "context.Canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded"
	}
	for {
		switch e := err.(type) {
		case *nonRetryableError:
			err = e.err
		case *rejectError:
			err = e.err
		case *retryAfterError:
			err = e.err
		default:
			return strings.TrimPrefix(reflect.TypeOf(err).String(), "*")
		}
	}
}
