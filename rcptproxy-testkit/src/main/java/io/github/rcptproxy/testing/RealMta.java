package io.github.rcptproxy.testing;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * What the real-server fixtures (Exim, OpenSMTPD) share: the skip-or-fail rule, their unpacked
 * packages, private passwd/group files, and a daemon process that must greet before use.
 */
final class RealMta {
  static final Path UNSHARE = Path.of("/usr/bin/unshare");
  private static final Path DEFAULT_PACKAGES = Path.of("/opt/rcptproxy-test");

  private RealMta() {}

  /**
   * Where {@code .ci/install-test-mtas} unpacked the packages: system property or environment
   * variable {@code RCPTPROXY_TEST_MTAS}, else {@code /opt/rcptproxy-test}.
   */
  static Path packages() {
    String dir = System.getProperty("RCPTPROXY_TEST_MTAS", System.getenv("RCPTPROXY_TEST_MTAS"));
    return dir == null || dir.isBlank() ? DEFAULT_PACKAGES : Path.of(dir);
  }

  /**
   * Skips the calling test when {@code binary} cannot be run here (it needs root, a working {@code
   * unshare --mount} and the unpacked package); under CI ({@code CI=true}) fails it instead: CI
   * must run these tests.
   */
  static void requireUsable(String server, Path binary) {
    String missing;
    if (!"root".equals(System.getProperty("user.name"))) {
      missing = "root";
    } else if (!Files.isExecutable(binary)) {
      missing = binary + " (.ci/install-test-mtas unpacks it)";
    } else {
      missing = mountNamespaceProblem();
    }
    if (missing != null && "true".equals(System.getenv("CI"))) {
      Assertions.fail(
          "CI=true but "
              + server
              + " is not usable here: needs "
              + missing
              + "; .ci/run must"
              + " run .ci/install-test-mtas");
    }
    Assumptions.assumeTrue(
        missing == null,
        server
            + " tests skipped: needs "
            + missing
            + "; run .ci/install-test-mtas as root (.ci/run does), or point RCPTPROXY_TEST_MTAS at"
            + " its target directory");
  }

  private static String mountNamespaceProblem;
  private static boolean mountNamespaceProbed;

  /** Null if {@code unshare --mount} works here (it does not in unprivileged containers). */
  private static synchronized String mountNamespaceProblem() {
    if (!mountNamespaceProbed) {
      mountNamespaceProbed = true;
      try {
        run(UNSHARE.toString(), "--mount", "--propagation", "private", "/bin/true");
      } catch (IOException e) {
        mountNamespaceProblem = "a private mount namespace (" + e.getMessage().strip() + ")";
      }
    }
    return mountNamespaceProblem;
  }

  /** A new temporary directory that the servers' unprivileged users can traverse. */
  static Path tempDirectory(String prefix) throws IOException {
    Path dir = Files.createTempDirectory(prefix);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    return dir;
  }

  /**
   * Writes copies of {@code /etc/passwd} and {@code /etc/group} into {@code dir} with the given
   * system users (name to home directory) added, each with its own group of the same id, unless the
   * host already has them. The fixtures bind-mount the copies over the originals in a private mount
   * namespace, so the host's files are never changed.
   *
   * @return each user's uid, which is also its gid
   */
  static Map<String, Integer> privateUsers(Path dir, Map<String, String> users) throws IOException {
    List<String> passwd = new ArrayList<>(Files.readAllLines(Path.of("/etc/passwd")));
    List<String> group = new ArrayList<>(Files.readAllLines(Path.of("/etc/group")));
    Set<Integer> used = new HashSet<>();
    Map<String, Integer> existing = new LinkedHashMap<>();
    for (List<String> file : List.of(passwd, group)) {
      for (String line : file) {
        String[] fields = line.split(":", -1);
        if (fields.length > 2 && fields[2].matches("\\d+")) {
          used.add(Integer.parseInt(fields[2]));
          if (file == passwd) {
            existing.put(fields[0], Integer.parseInt(fields[2]));
          }
        }
      }
    }
    Map<String, Integer> ids = new LinkedHashMap<>();
    int next = 60100; // above Debian's dynamic ranges, below nobody (65534)
    for (Map.Entry<String, String> user : users.entrySet()) {
      String name = user.getKey();
      if (existing.containsKey(name)) {
        ids.put(name, existing.get(name));
        continue;
      }
      while (used.contains(next)) {
        next++;
      }
      used.add(next);
      ids.put(name, next);
      passwd.add(
          name + ":x:" + next + ":" + next + ":" + name + ":" + user.getValue() + ":/bin/false");
      if (group.stream().noneMatch(line -> line.startsWith(name + ":"))) {
        group.add(name + ":x:" + next + ":");
      }
    }
    Files.write(dir.resolve("passwd"), passwd);
    Files.write(dir.resolve("group"), group);
    // No DNS here: the servers' lookups (OpenSMTPD resolves every client) must fail at once on
    // loopback rather than wait for the machine's resolver.
    Files.writeString(dir.resolve("resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1\n");
    return ids;
  }

  static void chown(Path path, int id) throws IOException {
    run("chown", "-R", id + ":" + id, path.toString());
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file, StandardCharsets.ISO_8859_1) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Starts {@code command} (which must not fork into the background), with its output going to
   * {@code output}, and waits until it greets on {@code port}. Stops it on failure, and at JVM
   * exit.
   */
  static Daemon startDaemon(String server, List<String> command, Path output, int port)
      throws IOException {
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(output.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
            .start();
    Daemon daemon = new Daemon(server, process);
    try {
      await(server + " greeting on port " + port)
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .failFast(server + " exited", () -> !process.isAlive())
          .ignoreExceptions()
          .until(
              () -> {
                try (SmtpClient client = new SmtpClient("127.0.0.1", port)) {
                  String greeting = client.readReply();
                  client.sendRaw("QUIT\r\n");
                  return greeting.startsWith("220");
                }
              });
    } catch (ConditionTimeoutException | TerminalFailureException e) {
      daemon.stop();
      throw new IllegalStateException(
          server + " did not start on port " + port + "; its output:\n" + read(output), e);
    }
    return daemon;
  }

  /** A running server process, stopped by {@link #stop()} or at JVM exit. */
  static final class Daemon {
    private final String server;
    private final Process process;
    private final Thread hook;

    private Daemon(String server, Process process) {
      this.server = server;
      this.process = process;
      this.hook = new Thread(this::terminate, "stop " + server);
      Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Stops the server (SIGTERM, then SIGKILL after 10 s); idempotent. */
    void stop() {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // the JVM is exiting and the hook runs anyway
      }
      terminate();
    }

    boolean isAlive() {
      return process.isAlive();
    }

    private void terminate() {
      process.destroy();
      try {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }

    @Override
    public String toString() {
      return server + " pid " + process.pid();
    }
  }

  static void run(String... command) throws IOException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException(String.join(" ", command) + " did not finish");
      }
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (process.exitValue() != 0) {
        throw new IOException(String.join(" ", command) + " failed: " + output);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }
}
