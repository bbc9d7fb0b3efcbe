package dev.jobsvc.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Message;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.jobsvc.v1.Payload;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Conversions between Java values, JSON text and job payloads.
 *
 * <p>Plain Java values map to JSON as usual: {@code null}, {@link Boolean}, {@link Number},
 * {@link CharSequence}, enums (by name), {@link Map} (keys as strings), {@link Iterable} and
 * arrays. A {@link Value} is taken as it is. A protobuf message becomes its JSON mapping in
 * {@link #toValue}, and a typed ({@code google.protobuf.Any}) payload in {@link #toPayload}.
 */
public final class Payloads {

  /** Numbers up to this size are exact in a double: {@link #toJava} makes those integral Longs. */
  private static final double MAX_EXACT_INTEGER = 9_007_199_254_740_992.0; // 2^53

  private static final JsonFormat.Printer COMPACT = JsonFormat.printer().omittingInsignificantWhitespace();

  private Payloads() {}

  /**
   * The payload of a job input: a {@link Payload} as it is, a protobuf message packed as a
   * typed payload, anything else as JSON ({@link #toValue}).
   */
  public static Payload toPayload(Object input) {
    if (input instanceof Payload payload) {
      return payload;
    }
    if (input instanceof Any any) {
      return Payload.newBuilder().setProto(any).build();
    }
    if (input instanceof Message message && !(input instanceof Value)) {
      return Payload.newBuilder().setProto(Any.pack(message)).build();
    }
    return Payload.newBuilder().setJson(toValue(input)).build();
  }

  /**
   * A Java value as a JSON {@link Value}.
   *
   * @throws IllegalArgumentException for a type with no JSON mapping, or a number that is not
   *     finite
   */
  public static Value toValue(Object value) {
    if (value == null) {
      return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    }
    if (value instanceof Value json) {
      return json;
    }
    if (value instanceof Boolean bool) {
      return Value.newBuilder().setBoolValue(bool).build();
    }
    if (value instanceof Number number) {
      double asDouble = number.doubleValue();
      if (!Double.isFinite(asDouble)) {
        throw new IllegalArgumentException("JSON has no number " + number);
      }
      return Value.newBuilder().setNumberValue(asDouble).build();
    }
    if (value instanceof CharSequence || value instanceof Character) {
      return Value.newBuilder().setStringValue(value.toString()).build();
    }
    if (value instanceof Enum<?> constant) {
      return Value.newBuilder().setStringValue(constant.name()).build();
    }
    if (value instanceof Map<?, ?> map) {
      Struct.Builder struct = Struct.newBuilder();
      map.forEach((key, field) -> struct.putFields(String.valueOf(key), toValue(field)));
      return Value.newBuilder().setStructValue(struct).build();
    }
    if (value instanceof Iterable<?> items) {
      ListValue.Builder list = ListValue.newBuilder();
      items.forEach(item -> list.addValues(toValue(item)));
      return Value.newBuilder().setListValue(list).build();
    }
    if (value.getClass().isArray()) {
      ListValue.Builder list = ListValue.newBuilder();
      for (int i = 0; i < Array.getLength(value); i++) {
        list.addValues(toValue(Array.get(value, i)));
      }
      return Value.newBuilder().setListValue(list).build();
    }
    if (value instanceof MessageOrBuilder message) {
      return parseJson(printJson(message));
    }
    throw new IllegalArgumentException("no JSON mapping for " + value.getClass().getName());
  }

  /**
   * The plain Java value of a JSON value: {@code null}, {@link Boolean}, {@link String},
   * {@link Long} for integral numbers up to 2^53 and {@link Double} for the others, an
   * unmodifiable {@code Map<String, Object>} (in the JSON's order) or {@code List<Object>}.
   */
  public static Object toJava(Value value) {
    return switch (value.getKindCase()) {
      case NULL_VALUE, KIND_NOT_SET -> null;
      case BOOL_VALUE -> value.getBoolValue();
      case STRING_VALUE -> value.getStringValue();
      case NUMBER_VALUE -> number(value.getNumberValue());
      case STRUCT_VALUE -> {
        Map<String, Object> map = new LinkedHashMap<>();
        value.getStructValue().getFieldsMap().forEach((key, field) -> map.put(key, toJava(field)));
        yield Collections.unmodifiableMap(map);
      }
      case LIST_VALUE -> {
        List<Object> list = new ArrayList<>();
        value.getListValue().getValuesList().forEach(item -> list.add(toJava(item)));
        yield Collections.unmodifiableList(list);
      }
    };
  }

  /**
   * The value of a payload: {@link #toJava} of a JSON payload, the {@link Any} of a typed one,
   * {@code null} for an empty payload.
   */
  public static Object toJava(Payload payload) {
    return switch (payload.getKindCase()) {
      case JSON -> toJava(payload.getJson());
      case PROTO -> payload.getProto();
      case KIND_NOT_SET -> null;
    };
  }

  /**
   * A JSON value read into a protobuf message through its JSON mapping (JsonFormat).
   *
   * @throws IllegalArgumentException when the JSON does not fit the message type
   */
  public static <T extends Message> T toMessage(Value value, Class<T> type) {
    Message.Builder builder = com.google.protobuf.Internal.getDefaultInstance(type).newBuilderForType();
    try {
      JsonFormat.parser().merge(printJson(value), builder);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("JSON does not fit " + type.getName() + ": " + e.getMessage(), e);
    }
    return type.cast(builder.build());
  }

  /**
   * JSON text as a {@link Value}.
   *
   * @throws IllegalArgumentException when the text is not JSON
   */
  public static Value parseJson(String json) {
    Value.Builder value = Value.newBuilder();
    try {
      JsonFormat.parser().merge(json, value);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("not JSON: " + e.getMessage(), e);
    }
    return value.build();
  }

  /**
   * A JSON value as compact JSON text, integral numbers written without a fraction.
   *
   * @throws IllegalArgumentException for a number that is not finite
   */
  public static String toJson(Value value) {
    return JsonWriter.write(value);
  }

  /** A message as compact JSON text, through its JSON mapping (JsonFormat). */
  public static String toJson(MessageOrBuilder message) {
    return message instanceof Value value ? toJson(value) : printJson(message);
  }

  private static String printJson(MessageOrBuilder message) {
    try {
      return COMPACT.print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("no JSON mapping: " + e.getMessage(), e);
    }
  }

  private static Object number(double number) {
    boolean integral = number == Math.rint(number) && Math.abs(number) <= MAX_EXACT_INTEGER;
    return integral ? (Object) (long) number : (Object) number;
  }
}
