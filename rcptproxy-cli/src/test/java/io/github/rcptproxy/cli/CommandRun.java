package io.github.rcptproxy.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The rcptproxy command run in this JVM as {@code main} runs it: exit code, and what it printed.
 */
final class CommandRun {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  int run(String... args) {
    return runWithInput("", args);
  }

  /** Runs {@code args} with {@code stdin} as standard input. */
  int runWithInput(String stdin, String... args) {
    return Rcptproxy.run(
        args,
        new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  void reset() {
    out.reset();
    err.reset();
  }

  /**
   * The subcommand of {@code args} with its options set as {@link Rcptproxy#run} sets them (from
   * the command line, {@code environment} and the config file), not run.
   */
  static <T> T parse(Class<T> command, Map<String, String> environment, String... args) {
    return Rcptproxy.parse(ConfigDefaults.from(args, environment), command);
  }

  static <T> T parse(Class<T> command, String... args) {
    return parse(command, Map.of(), args);
  }

  /**
   * {@code gateway} with a backend and a domain (the options it requires), then {@code options}.
   */
  static String[] gateway(String... options) {
    return Stream.concat(
            Stream.of("gateway", "--backend", "127.0.0.1:25", "--domain", "x.test"),
            Stream.of(options))
        .toArray(String[]::new);
  }
}
