package jobsvc

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

func TestJSONPayloadRoundTrip(t *testing.T) {
	type point struct {
		X    int      `json:"x"`
		Tags []string `json:"tags"`
	}
	decodeAs := func(out any) func(*jobsvcv1.Payload) (any, error) {
		return func(p *jobsvcv1.Payload) (any, error) {
			err := DecodePayload(p, out)
			return reflect.ValueOf(out).Elem().Interface(), err
		}
	}
	for _, tc := range []struct {
		in, want any
		decode   func(*jobsvcv1.Payload) (any, error)
	}{
		{map[string]any{"hello": "go", "n": 3.5, "ok": true, "none": nil}, nil, decodeAs(new(map[string]any))},
		{[]any{"a", 1.0, false}, nil, decodeAs(new([]any))},
		{"text", nil, decodeAs(new(string))},
		{nil, nil, decodeAs(new(any))},
		{point{X: 7, Tags: []string{"a"}}, nil, decodeAs(new(point))},
		{json.RawMessage(`{"raw": [1, 2]}`), map[string]any{"raw": []any{1.0, 2.0}}, decodeAs(new(map[string]any))},
	} {
		p, err := NewPayload(tc.in)
		if err != nil {
			t.Fatalf("NewPayload(%v): %v", tc.in, err)
		}
		if p.GetJson() == nil {
			t.Fatalf("NewPayload(%v) is not JSON: %v", tc.in, p)
		}
		got, err := tc.decode(p)
		if err != nil {
			t.Fatalf("DecodePayload: %v", err)
		}
		want := tc.want
		if want == nil {
			want = tc.in
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip: got %#v, want %#v", got, want)
		}
	}
	text, err := PayloadJSON(mustPayload(t, map[string]int{"a": 1}))
	if err != nil || string(compact(t, text)) != `{"a":1}` {
		t.Errorf("PayloadJSON: %s %v", text, err)
	}
}

func mustPayload(t *testing.T, v any) *jobsvcv1.Payload {
	t.Helper()
	p, err := NewPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func compact(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}

func TestProtoPayload(t *testing.T) {
	p, err := NewPayload(durationpb.New(3 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.GetProto().MessageName(); got != "google.protobuf.Duration" {
		t.Fatalf("packed %s", got)
	}
	var out durationpb.Duration
	if err := DecodePayload(p, &out); err != nil {
		t.Fatal(err)
	}
	if out.AsDuration() != 3*time.Second {
		t.Errorf("got %v", out.AsDuration())
	}
	var wrong map[string]any
	if err := DecodePayload(p, &wrong); err == nil {
		t.Error("decoding a typed payload into a map must fail")
	}
}

func TestDecodeNoPayload(t *testing.T) {
	var v any
	if err := DecodePayload(nil, &v); !errors.Is(err, ErrNoPayload) {
		t.Errorf("got %v, want ErrNoPayload", err)
	}
}

func TestNewPayloadRejectsUnencodable(t *testing.T) {
	if _, err := NewPayload(make(chan int)); err == nil {
		t.Error("a channel is not JSON")
	}
}

func TestNewSpecOptions(t *testing.T) {
	runAt := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	spec, err := NewSpec("resize_image", map[string]int{"width": 1},
		Version("^2"), Priority(7), IdempotencyKey("k1"),
		Labels(map[string]string{"a": "1"}), Labels(map[string]string{"b": "2"}),
		RunAt(runAt), AttemptTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := &jobsvcv1.JobSpec{
		Handler: "resize_image", Version: "^2", Priority: 7, IdempotencyKey: "k1",
		Labels: map[string]string{"a": "1", "b": "2"}, Input: spec.GetInput(),
		RunAt: spec.GetRunAt(), AttemptTimeout: durationpb.New(time.Minute),
	}
	if !proto.Equal(spec, want) || !spec.GetRunAt().AsTime().Equal(runAt) {
		t.Errorf("got %v", spec)
	}
	delayed, _ := NewSpec("echo", nil, Delay(1500*time.Millisecond))
	if delayed.GetDelay().AsDuration() != 1500*time.Millisecond {
		t.Errorf("delay %v", delayed.GetDelay())
	}
}

func TestRetryServiceConfig(t *testing.T) {
	var cfg struct {
		MethodConfig []struct {
			Name        []map[string]string
			RetryPolicy map[string]any
		}
	}
	if err := json.Unmarshal([]byte(DefaultRetryPolicy.serviceConfig()), &cfg); err != nil {
		t.Fatal(err)
	}
	mc := cfg.MethodConfig[0]
	if len(mc.Name) != 3 || mc.Name[0]["method"] != "GetJob" || mc.Name[0]["service"] != "jobsvc.v1.JobService" {
		t.Errorf("names %v", mc.Name)
	}
	if mc.RetryPolicy["initialBackoff"] != "0.1s" || mc.RetryPolicy["maxBackoff"] != "2s" {
		t.Errorf("policy %v", mc.RetryPolicy)
	}
	if codes := mc.RetryPolicy["retryableStatusCodes"].([]any); len(codes) != 1 || codes[0] != "UNAVAILABLE" {
		t.Errorf("codes %v", codes)
	}
}

func TestResumeBackoff(t *testing.T) {
	p := ResumePolicy{MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: time.Second} {
		got := p.backoff(n)
		if got < want*8/10 || got > want*12/10 {
			t.Errorf("backoff(%d) = %v, want about %v", n, got, want)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	job := &jobsvcv1.Job{Id: "j1", Error: &jobsvcv1.JobError{Type: "ValueError", Message: "bad", Attempt: 2}}
	_, err := finished(&jobsvcv1.Job{Id: "j1", State: jobsvcv1.JobState_JOB_STATE_FAILED, Error: job.Error})
	var failed *JobFailedError
	if !errors.As(err, &failed) || failed.Type != "ValueError" || failed.Attempt != 2 ||
		!strings.Contains(err.Error(), "ValueError: bad") {
		t.Errorf("got %v", err)
	}
	_, err = finished(&jobsvcv1.Job{Id: "j1", State: jobsvcv1.JobState_JOB_STATE_CANCELLED})
	var cancelled *JobCancelledError
	if !errors.As(err, &cancelled) {
		t.Errorf("got %v", err)
	}
}
