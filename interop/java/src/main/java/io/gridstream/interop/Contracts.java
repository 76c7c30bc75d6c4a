package io.gridstream.interop;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The GridStream message types, looked up by their protobuf full name (the {@code gs-type}
 * record header, e.g. {@code gridstream.v1.Forecast}).
 *
 * <p>The classes come from protoc at build time (proto/gridstream/v1); adding a .proto file
 * means adding its outer class to {@code FILES}. A Python test compares {@code types} with
 * the Python modules so a missing file cannot go unnoticed.
 */
public final class Contracts {

  /** The outer classes protoc generates, one per .proto file. */
  private static final List<Class<?>> FILES =
      List.of(
          gridstream.v1.AlertOuterClass.class,
          gridstream.v1.AnomalyOuterClass.class,
          gridstream.v1.Common.class,
          gridstream.v1.DeadLetterOuterClass.class,
          gridstream.v1.Features.class,
          gridstream.v1.ForecastOuterClass.class,
          gridstream.v1.Model.class,
          gridstream.v1.Readings.class,
          gridstream.v1.Rebalance.class,
          gridstream.v1.Storage.class);

  private final Map<String, Message> prototypes;
  private final JsonFormat.Printer printer;

  public Contracts() {
    Map<String, Message> byName = new TreeMap<>();
    for (Class<?> file : FILES) {
      for (Class<?> nested : file.getDeclaredClasses()) {
        if (Message.class.isAssignableFrom(nested)) {
          Message prototype = defaultInstance(nested);
          byName.put(prototype.getDescriptorForType().getFullName(), prototype);
        }
      }
    }
    this.prototypes = Collections.unmodifiableMap(byName);
    this.printer =
        JsonFormat.printer()
            .preservingProtoFieldNames()
            .alwaysPrintFieldsWithNoPresence()
            .omittingInsignificantWhitespace();
  }

  /** Every top-level message full name this client can decode, sorted. */
  public List<String> typeNames() {
    return List.copyOf(prototypes.keySet());
  }

  /** Decodes one record value of the given type. */
  public Message decode(String fullName, byte[] bytes) throws InvalidProtocolBufferException {
    Message prototype = prototypes.get(fullName);
    if (prototype == null) {
      throw new UnknownTypeException(fullName, typeNames());
    }
    return prototype.getParserForType().parseFrom(bytes);
  }

  /** The canonical proto3 JSON of a message (proto field names, defaults included). */
  public String toJson(Message message) throws InvalidProtocolBufferException {
    return printer.print(message);
  }

  private static Message defaultInstance(Class<?> generated) {
    try {
      return (Message) generated.getMethod("getDefaultInstance").invoke(null);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(generated.getName() + " is not a generated message", e);
    }
  }

  /** Raised for a {@code gs-type} this build does not know. */
  public static final class UnknownTypeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UnknownTypeException(String fullName, List<String> known) {
      super(
          "unknown message type '"
              + fullName
              + "' (known: "
              + String.join(", ", known)
              + "); rebuild this client from the current proto/ files");
    }
  }
}
