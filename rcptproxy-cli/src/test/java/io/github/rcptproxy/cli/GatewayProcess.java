package io.github.rcptproxy.cli;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The gateway as its own JVM, from the test class path or from the shaded jar, listening on a free
 * loopback port; its output goes to a log file. Closing kills it.
 */
final class GatewayProcess implements AutoCloseable {
  private final Process process;
  private final Path log;
  private final int port;

  private GatewayProcess(Process process, Path log, int port) {
    this.process = process;
    this.log = log;
    this.port = port;
  }

  /** {@code java -cp <test class path> io.github.rcptproxy.cli.Rcptproxy gateway ...}. */
  static GatewayProcess fromClassPath(Path log, String... args) throws IOException {
    return start(
        List.of("-cp", System.getProperty("java.class.path"), Rcptproxy.class.getName()),
        log,
        args);
  }

  /** {@code java -jar target/rcptproxy.jar gateway ...}, as users run it. */
  static GatewayProcess fromJar(Path log, String... args) throws IOException {
    return start(List.of("-jar", Path.of("target", "rcptproxy.jar").toString()), log, args);
  }

  /**
   * Runs a command of the jar that finishes ({@code --help}, {@code verify}) and returns its
   * output.
   */
  static String runJar(Path log, String... args) throws Exception {
    List<String> command = new ArrayList<>(java());
    command.addAll(List.of("-jar", Path.of("target", "rcptproxy.jar").toString()));
    command.addAll(List.of(args));
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    process.waitFor();
    return Files.readString(log);
  }

  private static GatewayProcess start(List<String> launcher, Path log, String... args)
      throws IOException {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    List<String> command = new ArrayList<>(java());
    command.addAll(launcher);
    command.addAll(List.of("gateway", "--listen", "127.0.0.1:" + port));
    command.addAll(List.of(args));
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    GatewayProcess gateway = new GatewayProcess(process, log, port);
    try {
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> Files.readString(log).contains("listening on") || !process.isAlive());
    } catch (RuntimeException e) {
      gateway.close();
      throw e;
    }
    if (!process.isAlive()) {
      throw new IllegalStateException("gateway did not start: " + Files.readString(log));
    }
    return gateway;
  }

  static List<String> java() {
    return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  int port() {
    return port;
  }

  Process process() {
    return process;
  }

  String log() throws IOException {
    return Files.readString(log);
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
