package jobsvc

import (
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// NewPayload turns a Go value into a Payload: a protobuf message becomes a typed
// payload (google.protobuf.Any), anything else is marshalled with encoding/json
// into a JSON payload. A *jobsvcv1.Payload is returned as it is, and
// json.RawMessage is taken as JSON text.
func NewPayload(v any) (*jobsvcv1.Payload, error) {
	switch x := v.(type) {
	case *jobsvcv1.Payload:
		return x, nil
	case *structpb.Value:
		return &jobsvcv1.Payload{Kind: &jobsvcv1.Payload_Json{Json: x}}, nil
	case *anypb.Any:
		return &jobsvcv1.Payload{Kind: &jobsvcv1.Payload_Proto{Proto: x}}, nil
	case proto.Message:
		packed, err := anypb.New(x)
		if err != nil {
			return nil, fmt.Errorf("jobsvc: pack %T: %w", x, err)
		}
		return &jobsvcv1.Payload{Kind: &jobsvcv1.Payload_Proto{Proto: packed}}, nil
	case json.RawMessage:
		return jsonPayload(x)
	}
	text, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("jobsvc: encode %T as JSON: %w", v, err)
	}
	return jsonPayload(text)
}

func jsonPayload(text []byte) (*jobsvcv1.Payload, error) {
	value := &structpb.Value{}
	if err := protojson.Unmarshal(text, value); err != nil {
		return nil, fmt.Errorf("jobsvc: invalid JSON payload: %w", err)
	}
	return &jobsvcv1.Payload{Kind: &jobsvcv1.Payload_Json{Json: value}}, nil
}

// ErrNoPayload is returned when decoding a payload that is not set (for example
// the result of a job that has not succeeded).
var ErrNoPayload = errors.New("jobsvc: no payload")

// DecodePayload decodes a payload into out: a JSON payload with encoding/json
// (out is any pointer json.Unmarshal accepts), a typed one into out, which must
// then be a proto.Message of the packed type.
func DecodePayload(p *jobsvcv1.Payload, out any) error {
	switch kind := p.GetKind().(type) {
	case *jobsvcv1.Payload_Json:
		text, err := protojson.Marshal(kind.Json)
		if err != nil {
			return fmt.Errorf("jobsvc: decode JSON payload: %w", err)
		}
		if err := json.Unmarshal(text, out); err != nil {
			return fmt.Errorf("jobsvc: decode JSON payload: %w", err)
		}
		return nil
	case *jobsvcv1.Payload_Proto:
		msg, ok := out.(proto.Message)
		if !ok {
			return fmt.Errorf("jobsvc: payload is a %s message, cannot decode into %T",
				kind.Proto.MessageName(), out)
		}
		return kind.Proto.UnmarshalTo(msg)
	default:
		return ErrNoPayload
	}
}

// PayloadJSON is the JSON text of a JSON payload, for logging or forwarding.
func PayloadJSON(p *jobsvcv1.Payload) (json.RawMessage, error) {
	value := p.GetJson()
	if value == nil {
		return nil, ErrNoPayload
	}
	return protojson.Marshal(value)
}
