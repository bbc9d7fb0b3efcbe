package dev.jobsvc.client;

import com.google.protobuf.Value;
import java.util.Iterator;
import java.util.Map;

/**
 * Writes a JSON {@link Value} as compact text, integral numbers without a fraction ({@code 42},
 * not JsonFormat's {@code 42.0}).
 */
final class JsonWriter {

  private final StringBuilder out = new StringBuilder();

  private JsonWriter() {}

  static String write(Value value) {
    JsonWriter writer = new JsonWriter();
    writer.value(value);
    return writer.out.toString();
  }

  private void value(Value value) {
    switch (value.getKindCase()) {
      case NULL_VALUE, KIND_NOT_SET -> out.append("null");
      case BOOL_VALUE -> out.append(value.getBoolValue());
      case NUMBER_VALUE -> number(value.getNumberValue());
      case STRING_VALUE -> string(value.getStringValue());
      case LIST_VALUE -> {
        out.append('[');
        for (int i = 0; i < value.getListValue().getValuesCount(); i++) {
          if (i > 0) {
            out.append(',');
          }
          value(value.getListValue().getValues(i));
        }
        out.append(']');
      }
      case STRUCT_VALUE -> {
        out.append('{');
        Iterator<Map.Entry<String, Value>> fields = value.getStructValue().getFieldsMap().entrySet().iterator();
        while (fields.hasNext()) {
          Map.Entry<String, Value> field = fields.next();
          string(field.getKey());
          out.append(':');
          value(field.getValue());
          if (fields.hasNext()) {
            out.append(',');
          }
        }
        out.append('}');
      }
    }
  }

  private void number(double number) {
    if (!Double.isFinite(number)) {
      throw new IllegalArgumentException("JSON has no number " + number);
    }
    Object plain = Payloads.toJava(Value.newBuilder().setNumberValue(number).build());
    out.append(plain);
  }

  private void string(String text) {
    out.append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
