package jobsvc

import (
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// JobFailedError is returned by Call when the job ended FAILED: the handler
// raised (or returned) an error on its last attempt.
type JobFailedError struct {
	// Job is the job in its terminal state.
	Job *jobsvcv1.Job
	// Type is the error's type as the handler reported it, e.g. "ValueError".
	Type      string
	Message   string
	Traceback string
	// Attempt is the attempt that failed.
	Attempt int32
}

func newJobFailedError(job *jobsvcv1.Job) *JobFailedError {
	e := job.GetError()
	return &JobFailedError{
		Job: job, Type: e.GetType(), Message: e.GetMessage(),
		Traceback: e.GetTraceback(), Attempt: e.GetAttempt(),
	}
}

// Error says which job failed, with the error type and message.
func (e *JobFailedError) Error() string {
	return fmt.Sprintf("jobsvc: job %s failed: %s: %s", e.Job.GetId(), e.Type, e.Message)
}

// JobCancelledError is returned by Call when the job ended CANCELLED.
type JobCancelledError struct {
	// Job is the job in its terminal state.
	Job *jobsvcv1.Job
}

// Error says which job was cancelled.
func (e *JobCancelledError) Error() string {
	return fmt.Sprintf("jobsvc: job %s was cancelled", e.Job.GetId())
}

// CallError is returned by Call when the RPC failed after the server had
// accepted the job, typically DEADLINE_EXCEEDED: the job carries on, and Get
// fetches it later by JobID. status.FromError and status.Code see the RPC's
// status unchanged.
type CallError struct {
	JobID string
	Err   error
}

// Error names the job and the RPC error.
func (e *CallError) Error() string { return fmt.Sprintf("jobsvc: call of job %s: %v", e.JobID, e.Err) }

// Unwrap returns the RPC error.
func (e *CallError) Unwrap() error { return e.Err }

// GRPCStatus is the status of the RPC, for status.FromError.
func (e *CallError) GRPCStatus() *status.Status { return status.Convert(e.Err) }

// Details are the google.rpc details jobsvc attaches to a failed RPC.
type Details struct {
	Code    codes.Code
	Message string
	// Reason and Domain come from the ErrorInfo detail, e.g. HANDLER_NOT_FOUND
	// in domain jobsvc.v1; Metadata holds its metadata (e.g. available_versions).
	Reason   string
	Domain   string
	Metadata map[string]string
	// FieldViolations come from the BadRequest detail: one per bad field, with
	// the request field path (e.g. "job.input.name").
	FieldViolations []FieldViolation
}

// FieldViolation is one bad request field.
type FieldViolation struct {
	Field       string
	Description string
}

// ErrorDetails reads the status and details of a failed RPC. ok is false when
// err carries no gRPC status (the Details then say codes.Unknown).
func ErrorDetails(err error) (d *Details, ok bool) {
	st, ok := status.FromError(err)
	d = &Details{Code: st.Code(), Message: st.Message(), Metadata: map[string]string{}}
	for _, detail := range st.Details() {
		switch x := detail.(type) {
		case *errdetails.ErrorInfo:
			d.Reason, d.Domain = x.GetReason(), x.GetDomain()
			for k, v := range x.GetMetadata() {
				d.Metadata[k] = v
			}
		case *errdetails.BadRequest:
			for _, v := range x.GetFieldViolations() {
				d.FieldViolations = append(d.FieldViolations, FieldViolation{v.GetField(), v.GetDescription()})
			}
		}
	}
	return d, ok
}
