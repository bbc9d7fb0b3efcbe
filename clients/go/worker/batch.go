package worker

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	jobsvcv1 "github.com/jobsvc/jobsvc/clients/go/gen/jobsvc/v1"
)

// maxBatch is the most messages the sender takes from the outbox at once (and so
// the most items one batch carries).
const maxBatch = 256

// Field numbers of the batch's encoding, for its exact size.
const (
	batchField     = 8 // WorkRequest.batch
	batchItemField = 1 // WorkRequest.Batch.items
)

// batchItem is m as a WorkRequest.Batch item and its field number in the item,
// or nil for the messages that always go alone (hello, heartbeat, drain, batch).
func batchItem(m *jobsvcv1.WorkRequest) (*jobsvcv1.WorkRequest_Batch_Item, proto.Message, protowire.Number) {
	switch k := m.GetKind().(type) {
	case *jobsvcv1.WorkRequest_Ack:
		return &jobsvcv1.WorkRequest_Batch_Item{Kind: &jobsvcv1.WorkRequest_Batch_Item_Ack{Ack: k.Ack}}, k.Ack, 1
	case *jobsvcv1.WorkRequest_Nack:
		return &jobsvcv1.WorkRequest_Batch_Item{Kind: &jobsvcv1.WorkRequest_Batch_Item_Nack{Nack: k.Nack}}, k.Nack, 2
	case *jobsvcv1.WorkRequest_Reject:
		return &jobsvcv1.WorkRequest_Batch_Item{Kind: &jobsvcv1.WorkRequest_Batch_Item_Reject{Reject: k.Reject}}, k.Reject, 3
	case *jobsvcv1.WorkRequest_Progress:
		return &jobsvcv1.WorkRequest_Batch_Item{Kind: &jobsvcv1.WorkRequest_Batch_Item_Progress{Progress: k.Progress}}, k.Progress, 4
	}
	return nil, nil, 0
}

// outgoing is one message for the stream and the outbox messages it carries.
type outgoing struct {
	msg       *jobsvcv1.WorkRequest
	originals []*jobsvcv1.WorkRequest
}

// coalesce turns the messages ready in the outbox, in order, into what goes on
// the stream: consecutive settlements and progress reports combined into one
// batch of at most budget bytes (the encoded WorkRequest), other messages
// (drain) alone. A group of one goes as the plain message it was, and so does
// an item over the budget by itself (as it would have without batches).
func coalesce(ready []*jobsvcv1.WorkRequest, budget int64) []outgoing {
	var out []outgoing
	var items []*jobsvcv1.WorkRequest_Batch_Item
	var group []*jobsvcv1.WorkRequest
	var groupBytes int // the encoded WorkRequest.Batch
	flush := func() {
		switch len(group) {
		case 0:
			return
		case 1:
			out = append(out, outgoing{msg: group[0], originals: group})
		default:
			msg := &jobsvcv1.WorkRequest{Kind: &jobsvcv1.WorkRequest_Batch_{
				Batch: &jobsvcv1.WorkRequest_Batch{Items: items},
			}}
			out = append(out, outgoing{msg: msg, originals: group})
		}
		items, group, groupBytes = nil, nil, 0
	}
	for _, m := range ready {
		item, inner, field := batchItem(m)
		if item == nil {
			flush()
			out = append(out, outgoing{msg: m, originals: []*jobsvcv1.WorkRequest{m}})
			continue
		}
		itemBytes := protowire.SizeTag(field) + protowire.SizeBytes(proto.Size(inner))
		entry := protowire.SizeTag(batchItemField) + protowire.SizeBytes(itemBytes)
		if len(group) > 0 && int64(batchMessageSize(groupBytes+entry)) > budget {
			flush()
		}
		items = append(items, item)
		group = append(group, m)
		groupBytes += entry
	}
	flush()
	return out
}

// batchMessageSize is the encoded size of a WorkRequest whose batch is n bytes.
func batchMessageSize(n int) int {
	return protowire.SizeTag(batchField) + protowire.SizeBytes(n)
}
