package dev.runwire.client;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;

/**
 * JSON text to and from {@code google.protobuf.Struct}, the type of model options, tool parameter
 * schemas and edited approval arguments. Tool call arguments and results travel as JSON text.
 */
public final class Json {
  private Json() {}

  /** Parses a JSON object into a Struct; throws IllegalArgumentException if it is not one. */
  public static Struct struct(String json) {
    Struct.Builder builder = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, builder);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("not a JSON object: " + e.getMessage(), e);
    }
    return builder.build();
  }

  /** Compact JSON text of a Struct. */
  public static String text(Struct struct) {
    try {
      return JsonFormat.printer().omittingInsignificantWhitespace().print(struct);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
