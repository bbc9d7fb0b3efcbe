package jobsvc

import (
	"encoding/json"
	"strconv"
	"time"
)

// RetryPolicy is a gRPC retry policy: an RPC that fails with UNAVAILABLE is tried
// again, up to MaxAttempts times in all, waiting a random time up to
// min(InitialBackoff * BackoffMultiplier^(n-1), MaxBackoff) before the n-th retry.
type RetryPolicy struct {
	// Attempts in all, including the first: 2..5 (gRPC caps it at 5).
	MaxAttempts       int
	InitialBackoff    time.Duration
	MaxBackoff        time.Duration
	BackoffMultiplier float64
}

// DefaultRetryPolicy is the retry policy of the idempotent methods unless
// WithRetryPolicy or WithoutRetries says otherwise.
var DefaultRetryPolicy = RetryPolicy{
	MaxAttempts:       4,
	InitialBackoff:    100 * time.Millisecond,
	MaxBackoff:        2 * time.Second,
	BackoffMultiplier: 2,
}

// idempotentMethods are retried on UNAVAILABLE: repeating them changes nothing.
var idempotentMethods = []methodName{
	{Service: "jobsvc.v1.JobService", Method: "GetJob"},
	{Service: "jobsvc.v1.JobService", Method: "ListJobs"},
	{Service: "jobsvc.v1.JobService", Method: "ListHandlers"},
}

type methodName struct {
	Service string `json:"service"`
	Method  string `json:"method"`
}

type retryPolicyJSON struct {
	MaxAttempts          int      `json:"maxAttempts"`
	InitialBackoff       string   `json:"initialBackoff"`
	MaxBackoff           string   `json:"maxBackoff"`
	BackoffMultiplier    float64  `json:"backoffMultiplier"`
	RetryableStatusCodes []string `json:"retryableStatusCodes"`
}

type methodConfig struct {
	Name        []methodName    `json:"name"`
	RetryPolicy retryPolicyJSON `json:"retryPolicy"`
}

// serviceConfig is the gRPC service config (JSON) applying the retry policy to
// the idempotent methods.
func (p RetryPolicy) serviceConfig() string {
	cfg := struct {
		MethodConfig []methodConfig `json:"methodConfig"`
	}{[]methodConfig{{
		Name: idempotentMethods,
		RetryPolicy: retryPolicyJSON{
			MaxAttempts:          p.MaxAttempts,
			InitialBackoff:       protoDuration(p.InitialBackoff),
			MaxBackoff:           protoDuration(p.MaxBackoff),
			BackoffMultiplier:    p.BackoffMultiplier,
			RetryableStatusCodes: []string{"UNAVAILABLE"},
		},
	}}}
	out, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // plain structs of strings and numbers always marshal
	}
	return string(out)
}

// protoDuration is a duration in the JSON form of google.protobuf.Duration ("0.1s").
func protoDuration(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
