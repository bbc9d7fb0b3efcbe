/**
 * Payloads (job input, result, partial output): a JSON value, or a typed protobuf
 * message packed in a google.protobuf.Any.
 */
import {
  create,
  fromJson,
  isMessage,
  toJson,
  type DescMessage,
  type JsonValue,
  type MessageShape,
} from "@bufbuild/protobuf";
import { anyPack, AnySchema, ValueSchema, type Any } from "@bufbuild/protobuf/wkt";
import { PayloadSchema, type Payload } from "./gen/jobsvc/v1/job_pb.js";

export type { JsonValue };

/** What a job's input may be: any JSON value, a ready Payload, or a packed `Any`. */
export type PayloadInput = JsonValue | Payload | Any | undefined;

/** A value as a Payload: JSON values become `json`, an `Any` becomes `proto`; `undefined` is JSON null. */
export function toPayload(value: PayloadInput): Payload {
  if (isMessage(value, PayloadSchema)) return value;
  if (isMessage(value, AnySchema)) return create(PayloadSchema, { kind: { case: "proto", value } });
  return create(PayloadSchema, { kind: { case: "json", value: fromJson(ValueSchema, value ?? null) } });
}

/** A typed protobuf message as a Payload (`proto`), for handlers that declare an input type. */
export function protoPayload<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Payload {
  return create(PayloadSchema, { kind: { case: "proto", value: anyPack(schema, message) } });
}

/** The JSON value of a `json` payload, the `Any` of a `proto` one, `undefined` for none. */
export function payloadValue(payload: Payload | undefined): JsonValue | Any | undefined {
  switch (payload?.kind.case) {
    case "json":
      return toJson(ValueSchema, payload.kind.value);
    case "proto":
      return payload.kind.value;
    default:
      return undefined;
  }
}
