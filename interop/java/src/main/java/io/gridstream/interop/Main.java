package io.gridstream.interop;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * {@code gridstream-interop}: prints GridStream records as JSON lines, one per record.
 *
 * <pre>
 * consume -b HOST:PORT -t TOPIC [-t TOPIC...] [--from-beginning] [--group ID]
 *         [--max-messages N] [--idle-ms MS] [--type FULL_NAME] [--config FILE] [-X key=value...]
 * decode  --type FULL_NAME [FILE...]        (each file is one serialized message; stdin if none)
 * types                                     (the message types this build knows)
 * </pre>
 *
 * <p>The message type of a record comes from its {@code gs-type} header (the protobuf full
 * name, e.g. {@code gridstream.v1.Forecast}); {@code --type} is the fallback for records
 * without one. Exit status: 0 ok, 1 some records could not be decoded, 2 usage error.
 */
public final class Main {

  static final String TYPE_HEADER = "gs-type";
  static final String SCHEMA_HEADER = "gs-schema";

  private final Contracts contracts = new Contracts();
  private final PrintStream out;
  private final PrintStream err;
  private int failures;

  Main(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  public static void main(String[] args) {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    Main main = new Main(out, System.err);
    int status;
    try {
      status = main.run(Options.parse(args));
    } catch (Options.UsageException e) {
      System.err.println("error: " + e.getMessage());
      System.err.println(Options.USAGE);
      status = 2;
    }
    out.flush();
    System.exit(status);
  }

  int run(Options options) {
    switch (options.command) {
      case "types" -> contracts.typeNames().forEach(out::println);
      case "decode" -> decodeFiles(options);
      case "consume" -> consume(options);
      default -> out.println(Options.USAGE);
    }
    out.flush();
    return failures == 0 ? 0 : 1;
  }

  private void decodeFiles(Options options) {
    if (options.type == null) {
      throw new Options.UsageException("decode needs --type FULL_NAME");
    }
    List<String> sources = options.files.isEmpty() ? List.of("-") : options.files;
    for (String source : sources) {
      try {
        byte[] bytes = source.equals("-") ? readAll(System.in) : Files.readAllBytes(Path.of(source));
        Message message = contracts.decode(options.type, bytes);
        out.println(
            "{\"source\":" + Json.string(source) + ",\"type\":" + Json.string(options.type)
                + ",\"value\":" + contracts.toJson(message) + "}");
      } catch (IOException | RuntimeException e) {
        failures++;
        err.println("cannot decode " + source + " as " + options.type + ": " + e.getMessage());
      }
    }
  }

  private void consume(Options options) {
    if (options.bootstrap == null || options.topics.isEmpty()) {
      throw new Options.UsageException("consume needs --bootstrap HOST:PORT and --topic NAME");
    }
    Properties props = new Properties();
    props.putAll(options.clientProperties);
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrap);
    boolean ownGroup = options.group == null;
    props.put(
        ConsumerConfig.GROUP_ID_CONFIG,
        ownGroup ? "gridstream-interop-" + UUID.randomUUID() : options.group);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, String.valueOf(!ownGroup));
    props.put(
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, options.fromBeginning ? "earliest" : "latest");
    props.put(ConsumerConfig.CLIENT_ID_CONFIG, "gridstream-interop");

    long printed = 0;
    long idleSince = System.currentTimeMillis();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      Runtime.getRuntime().addShutdownHook(new Thread(consumer::wakeup));
      consumer.subscribe(options.topics);
      while (options.maxMessages <= 0 || printed < options.maxMessages) {
        ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
        if (records.isEmpty()) {
          if (options.idleMs > 0 && System.currentTimeMillis() - idleSince >= options.idleMs) {
            break;
          }
          continue;
        }
        idleSince = System.currentTimeMillis();
        for (ConsumerRecord<byte[], byte[]> record : records) {
          if (options.maxMessages > 0 && printed >= options.maxMessages) {
            break;
          }
          printRecord(record, options.type);
          printed++;
        }
        out.flush();
      }
    } catch (org.apache.kafka.common.errors.WakeupException e) {
      // Ctrl-C: leave quietly, the consumer is closed by try-with-resources.
    }
  }

  private void printRecord(ConsumerRecord<byte[], byte[]> record, String fallbackType) {
    String type = headerText(record, TYPE_HEADER);
    if (type == null) {
      type = fallbackType;
    }
    String where = record.topic() + "/" + record.partition() + "@" + record.offset();
    if (type == null) {
      failures++;
      err.println(where + ": no " + TYPE_HEADER + " header; pass --type FULL_NAME");
      return;
    }
    try {
      Message message = contracts.decode(type, record.value() == null ? new byte[0] : record.value());
      String key =
          record.key() == null ? "null" : Json.string(new String(record.key(), StandardCharsets.UTF_8));
      String schema = headerText(record, SCHEMA_HEADER);
      out.println(
          "{\"topic\":" + Json.string(record.topic())
              + ",\"partition\":" + record.partition()
              + ",\"offset\":" + record.offset()
              + ",\"timestamp\":" + record.timestamp()
              + ",\"key\":" + key
              + ",\"type\":" + Json.string(type)
              + ",\"schema\":" + (schema == null ? "null" : Json.string(schema))
              + ",\"value\":" + contracts.toJson(message) + "}");
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      failures++;
      err.println(where + ": cannot decode as " + type + ": " + e.getMessage());
    }
  }

  private static String headerText(ConsumerRecord<byte[], byte[]> record, String name) {
    Header header = record.headers().lastHeader(name);
    return header == null || header.value() == null
        ? null
        : new String(header.value(), StandardCharsets.UTF_8);
  }

  private static byte[] readAll(InputStream in) throws IOException {
    return in.readAllBytes();
  }

  /** Command-line options, parsed by hand to keep the jar free of CLI libraries. */
  static final class Options {
    static final String USAGE =
        String.join(
            "\n",
            "usage: java -jar gridstream-interop.jar COMMAND [options]",
            "  consume -b HOST:PORT -t TOPIC [-t TOPIC...] [--from-beginning] [--group ID]",
            "          [--max-messages N] [--idle-ms MS] [--type FULL_NAME] [--config FILE]",
            "          [-X key=value...]   print each record as one JSON line",
            "  decode --type FULL_NAME [FILE...]   decode serialized messages (stdin if no FILE)",
            "  types                                list the message types this build knows",
            "The type of a record comes from its gs-type header; --type is the fallback.",
            "--config/-X pass Kafka client properties (security.protocol, sasl.*, ssl.*...).");

    String command = "help";
    String bootstrap;
    final List<String> topics = new ArrayList<>();
    String group;
    String type;
    boolean fromBeginning;
    long maxMessages;
    long idleMs;
    final Properties clientProperties = new Properties();
    final List<String> files = new ArrayList<>();

    static Options parse(String[] args) {
      Options o = new Options();
      if (args.length == 0) {
        return o;
      }
      o.command = args[0];
      if (!List.of("consume", "decode", "types", "help", "--help", "-h").contains(o.command)) {
        throw new UsageException("unknown command " + o.command);
      }
      for (int i = 1; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "-b", "--bootstrap" -> o.bootstrap = value(args, ++i, a);
          case "-t", "--topic" -> o.topics.add(value(args, ++i, a));
          case "-g", "--group" -> o.group = value(args, ++i, a);
          case "--type" -> o.type = value(args, ++i, a);
          case "--from-beginning" -> o.fromBeginning = true;
          case "--max-messages" -> o.maxMessages = number(value(args, ++i, a), a);
          case "--idle-ms" -> o.idleMs = number(value(args, ++i, a), a);
          case "--config" -> o.load(value(args, ++i, a));
          case "-X" -> o.property(value(args, ++i, a));
          default -> {
            if (a.startsWith("-") && !a.equals("-")) {
              throw new UsageException("unknown option " + a);
            }
            o.files.add(a);
          }
        }
      }
      return o;
    }

    private void load(String file) {
      try (InputStream in = Files.newInputStream(Path.of(file))) {
        clientProperties.load(in);
      } catch (IOException e) {
        throw new UsageException("cannot read --config " + file + ": " + e.getMessage());
      }
    }

    private void property(String pair) {
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new UsageException("-X expects key=value, got " + pair);
      }
      clientProperties.put(pair.substring(0, eq), pair.substring(eq + 1));
    }

    private static String value(String[] args, int i, String option) {
      if (i >= args.length) {
        throw new UsageException(option + " needs a value");
      }
      return args[i];
    }

    private static long number(String text, String option) {
      try {
        return Long.parseLong(text);
      } catch (NumberFormatException e) {
        throw new UsageException(option + " expects a whole number, got " + text);
      }
    }

    /** A command-line mistake: reported with the usage text, exit status 2. */
    static final class UsageException extends RuntimeException {
      private static final long serialVersionUID = 1L;

      UsageException(String message) {
        super(message);
      }
    }
  }
}
