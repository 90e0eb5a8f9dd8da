package io.github.rcptproxy.testing;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Postfix, started from a temporary directory on a free loopback port, with its default
 * limits (error limits, inflow control, recipient limit). Mailboxes {@code user0} to {@code
 * user999} and {@code postmaster} exist in {@value #DOMAIN}; accepted mail is discarded. Loopback
 * clients are not trusted ({@code mynetworks} excludes them), so nothing is relayed.
 *
 * <p>{@link #shared()} is one instance per JVM with the defaults; {@link #start(List)} starts an
 * additional one with extra {@code main.cf} lines (hardened sites: {@link #REJECT_NON_FQDN_SENDER},
 * {@link #CLIENT_REJECTED}), which {@link #close()} stops.
 *
 * <p>Needs root and {@code /usr/sbin/postfix}. Without them the calling test is skipped with a
 * message, except under CI ({@code CI=true}), where it fails: CI must run the Postfix tests.
 */
public final class PostfixBackend implements AutoCloseable {
  public static final String DOMAIN = "example.test";
  public static final int MAILBOXES = 1000;

  /**
   * No wait for an inflow token at {@code MAIL FROM}: for tests whose subject is not inflow control
   * but that open hundreds of probe transactions by {@code RCPT}, each of which (never delivered,
   * so never handing its token back) would otherwise wait up to {@code in_flow_delay} (1 s) for the
   * next one. Inflow itself is tested on a Postfix with its default delay.
   */
  public static final String NO_INFLOW_DELAY = "in_flow_delay = 0s";

  /**
   * A site that rejects senders without a fully qualified domain: with {@code rcptproxy@localhost}
   * as sender, {@code MAIL FROM} is answered {@code 250} but each RCPT, existing mailbox or not,
   * {@code 504 5.5.2 <rcptproxy@localhost>: Sender address rejected: need fully-qualified address}.
   */
  public static final List<String> REJECT_NON_FQDN_SENDER =
      List.of("smtpd_sender_restrictions = reject_non_fqdn_sender");

  /**
   * A site whose access table rejects the client 127.0.0.1 (where the gateway and the tests connect
   * from): each RCPT, existing mailbox or not, is answered {@code 554 5.7.1 <unknown[127.0.0.1]>:
   * Client host rejected: Access denied}.
   */
  public static final List<String> CLIENT_REJECTED =
      List.of("smtpd_client_restrictions = check_client_access inline:{127.0.0.1=REJECT}");

  /**
   * A site that offers STARTTLS ({@code smtpd_tls_security_level = may}) with TLS 1.0 and 1.1 only,
   * which the JDK 17 client does not speak (and rcptproxy never offers): every handshake with it
   * fails, while a client in the clear is served. {@code smtpd_tls_loglevel = 1} logs each TLS
   * session and failure.
   */
  public static List<String> tlsTheJdkCannotSpeak(TestCertificates certificates) {
    return List.of(
        "smtpd_tls_security_level = may",
        "smtpd_tls_cert_file = " + certificates.serverCertificate(),
        "smtpd_tls_key_file = " + certificates.serverKey(),
        "smtpd_tls_protocols = >=TLSv1, <=TLSv1.1",
        "tls_medium_cipherlist = DEFAULT:@SECLEVEL=0",
        "smtpd_tls_loglevel = 1");
  }

  private static final Path POSTFIX = Path.of("/usr/sbin/postfix");
  private static final Path DEFAULT_MAIN_CF = Path.of("/etc/postfix/main.cf");
  // Test JVMs of several modules or checkouts may edit the default main.cf at the same time.
  private static final Path MAIN_CF_LOCK = Path.of("/tmp/rcptproxy-postfix-main-cf.lock");

  private static PostfixBackend shared;

  private final Path dir;
  private final int port;
  private final boolean isShared;
  private final Thread shutdownHook;
  private boolean stopped;

  private PostfixBackend(Path dir, int port, boolean isShared) {
    this.dir = dir;
    this.port = port;
    this.isShared = isShared;
    this.shutdownHook = new Thread(this::stopAndUnregister, "stop Postfix " + dir);
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /** The JVM's Postfix, started on first call; skips (or, under CI, fails) the test without it. */
  public static synchronized PostfixBackend shared() {
    requireUsable();
    if (shared == null) {
      shared = launch(List.of(), true, false);
    }
    return shared;
  }

  /**
   * A new Postfix of its own, with {@code extraMainCf} lines after the defaults (a later line
   * wins), e.g. {@link #REJECT_NON_FQDN_SENDER}. Close it when done; it is stopped at JVM exit
   * otherwise. Skips (or, under CI, fails) the calling test without Postfix.
   */
  public static PostfixBackend start(List<String> extraMainCf) {
    requireUsable();
    return launch(List.copyOf(extraMainCf), false, false);
  }

  /**
   * A new Postfix of its own behind postscreen ({@code postscreen_greet_action = enforce}, no
   * DNSBL): a new client gets {@code 220-} at once and the rest of the greeting after the greet
   * wait (6 s by default; {@code extraMainCf} may set {@code postscreen_greet_wait}); one that
   * speaks first or hangs up before it is not let through; one that waits is remembered ({@code
   * postscreen_greet_ttl}, 1 day) and greeted at once from then on. Nothing has waited when it is
   * returned: the readiness check hangs up after the {@code 220-}.
   */
  public static PostfixBackend startBehindPostscreen(List<String> extraMainCf) {
    requireUsable();
    List<String> mainCf = new ArrayList<>();
    mainCf.add("postscreen_greet_action = enforce");
    mainCf.add("postscreen_dnsbl_sites =");
    mainCf.addAll(extraMainCf);
    return launch(mainCf, false, true);
  }

  private static void requireUsable() {
    boolean available =
        Files.isExecutable(POSTFIX) && "root".equals(System.getProperty("user.name"));
    if (!available && "true".equals(System.getenv("CI"))) {
      Assertions.fail(
          "CI=true but Postfix is not usable here (needs root and "
              + POSTFIX
              + "): .ci/run must install it");
    }
    Assumptions.assumeTrue(
        available, "Postfix tests skipped: install postfix and run as root (.ci/run does)");
  }

  public static String known(int n) {
    return "user" + n + "@" + DOMAIN;
  }

  public static String unknown(int n) {
    return "nobody" + n + "@" + DOMAIN;
  }

  public int port() {
    return port;
  }

  /** Postfix's log of this instance. */
  public String log() throws IOException {
    Path log = dir.resolve("maillog");
    return Files.exists(log) ? new String(Files.readAllBytes(log), StandardCharsets.UTF_8) : "";
  }

  /**
   * Delivers one real message. Aborted probe transactions keep Postfix's inflow-control tokens; one
   * delivered message makes the queue manager hand them back.
   */
  public void deliverOneMessage() throws IOException {
    try (SmtpClient client = new SmtpClient("127.0.0.1", port)) {
      expect(client.readReply(), "220");
      expect(client.send("EHLO test.example"), "250");
      expect(client.send("MAIL FROM:<sender@test.example>"), "250");
      expect(client.send("RCPT TO:<" + known(0) + ">"), "250");
      expect(client.send("DATA"), "354");
      expect(client.send("Subject: refill\r\n\r\nhello\r\n."), "250");
      client.send("QUIT");
    }
  }

  private static void expect(String reply, String code) {
    if (reply == null || !reply.startsWith(code)) {
      throw new IllegalStateException("expected " + code + " from Postfix, got " + reply);
    }
  }

  /** Asks this instance to try every deferred message now ({@code postqueue -f}). */
  public void flushQueue() throws IOException {
    run("/usr/sbin/postqueue", "-c", configDirectory().toString(), "-f");
  }

  /**
   * The instance's {@code queue_directory}: {@code unix:private/NAME} in its {@code main.cf} is
   * {@code private/NAME} under it.
   */
  public Path queueDirectory() {
    return dir.resolve("queue");
  }

  /** The instance's configuration directory, listed in the default main.cf while it runs. */
  Path configDirectory() {
    return dir.resolve("etc");
  }

  /**
   * Stops an instance from {@link #start(List)} and removes its directory from the default main.cf;
   * idempotent. The {@linkplain #shared() shared} instance is left running for the other tests of
   * the JVM (it stops at JVM exit).
   */
  @Override
  public void close() {
    if (!isShared) {
      shutdown();
    }
  }

  private void shutdown() {
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is exiting and the hook runs anyway
    }
    stopAndUnregister();
  }

  private synchronized void stopAndUnregister() {
    if (stopped) {
      return;
    }
    stopped = true;
    Path etc = configDirectory();
    try {
      run(POSTFIX.toString(), "-c", etc.toString(), "stop");
    } catch (IOException e) {
      // already stopped, or the JVM is exiting; the directory is unlisted all the same
    }
    try {
      editDefaultMainCf(directories -> directories.remove(etc.toString()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static PostfixBackend launch(
      List<String> extraMainCf, boolean isShared, boolean postscreen) {
    try {
      Path dir = Files.createTempDirectory("rcptproxy-postfix-");
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
      int port = freePort();
      Path etc = Files.createDirectories(dir.resolve("etc"));
      Path data = Files.createDirectories(dir.resolve("data"));
      Files.createDirectories(dir.resolve("queue")); // postfix check fills it in
      run("chown", "postfix", data.toString());
      Files.writeString(
          etc.resolve("mailboxes"),
          IntStream.range(0, MAILBOXES)
                  .mapToObj(i -> known(i) + " OK\n")
                  .collect(Collectors.joining())
              + "postmaster@"
              + DOMAIN
              + " OK\n");
      List<String> mainCf =
          new ArrayList<>(
              List.of(
                  "compatibility_level = 3.6",
                  "queue_directory = " + dir.resolve("queue"),
                  "data_directory = " + data,
                  "mail_owner = postfix",
                  "setgid_group = postdrop",
                  "inet_interfaces = 127.0.0.1",
                  "inet_protocols = ipv4",
                  "myhostname = backend." + DOMAIN,
                  "mydestination =",
                  "mynetworks = 127.0.0.254/32",
                  "virtual_mailbox_domains = " + DOMAIN,
                  "virtual_mailbox_maps = texthash:" + etc.resolve("mailboxes"),
                  "virtual_transport = discard",
                  "maillog_file = " + dir.resolve("maillog"),
                  "maillog_file_prefixes = /tmp",
                  "smtpd_forbid_bare_newline_exclusions =",
                  "smtpd_peername_lookup = no",
                  "alias_maps =",
                  "alias_database ="));
      mainCf.addAll(extraMainCf);
      Files.write(etc.resolve("main.cf"), mainCf);
      List<String> master = new ArrayList<>();
      for (String line : Files.readAllLines(Path.of("/etc/postfix/master.cf"))) {
        if (line.matches("^smtp\\s+inet\\s.*")) {
          if (postscreen) {
            master.add("127.0.0.1:" + port + " inet n - n - 1 postscreen");
            master.add("smtpd pass - - n - - smtpd");
            master.add("dnsblog unix - - n - 0 dnsblog");
            master.add("tlsproxy unix - - n - 0 tlsproxy");
          } else {
            master.add("127.0.0.1:" + port + " inet n - n - - smtpd");
          }
        } else if (postscreen && line.matches("^(smtpd|dnsblog|tlsproxy)\\s.*")) {
          continue; // defined above
        } else if (!line.isBlank()
            && !line.startsWith("#")
            && !Character.isWhitespace(line.charAt(0))) {
          String[] fields = line.split("\\s+", 8);
          if (fields.length >= 8) {
            fields[4] = "n";
          }
          master.add(String.join(" ", fields));
        } else {
          master.add(line);
        }
      }
      Files.write(etc.resolve("master.cf"), master);
      registerAlternateConfigDirectory(etc);
      PostfixBackend backend = new PostfixBackend(dir, port, isShared);
      try {
        run(POSTFIX.toString(), "-c", etc.toString(), "check");
        run(POSTFIX.toString(), "-c", etc.toString(), "start");
        await("Postfix greeting on port " + port)
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(100))
            .ignoreExceptions()
            .until(
                () -> {
                  try (SmtpClient client = new SmtpClient("127.0.0.1", port)) {
                    return postscreen
                        ? client.readLine().startsWith("220-") // hang up: nothing waited
                        : client.readReply().startsWith("220");
                  }
                });
      } catch (IOException | RuntimeException e) {
        backend.shutdown();
        throw e;
      }
      return backend;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Postfix starts an instance from another directory only if the default main.cf lists it. */
  private static void registerAlternateConfigDirectory(Path etc) throws IOException {
    editDefaultMainCf(directories -> directories.add(etc.toString()));
  }

  /**
   * Rewrites {@code alternate_config_directories} in the default main.cf with {@code edit} applied
   * to its list, dropping directories that no longer exist, under a lock shared by all JVMs.
   */
  private static synchronized void editDefaultMainCf(Consumer<List<String>> edit)
      throws IOException {
    try (FileChannel channel =
            FileChannel.open(MAIN_CF_LOCK, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = channel.lock()) {
      List<String> lines =
          Files.exists(DEFAULT_MAIN_CF) ? Files.readAllLines(DEFAULT_MAIN_CF) : List.of();
      List<String> kept = new ArrayList<>();
      List<String> directories = new ArrayList<>();
      for (String line : lines) {
        if (line.startsWith("alternate_config_directories")) {
          for (String d : line.substring(line.indexOf('=') + 1).trim().split("[,\\s]+")) {
            if (!d.isEmpty() && Files.isDirectory(Path.of(d)) && !directories.contains(d)) {
              directories.add(d);
            }
          }
        } else if (!line.startsWith("maillog_file_prefixes")) {
          kept.add(line);
        }
      }
      edit.accept(directories);
      kept.add("alternate_config_directories = " + String.join(", ", directories));
      kept.add("maillog_file_prefixes = /var, /dev/stdout, /tmp");
      Files.write(DEFAULT_MAIN_CF, kept);
    }
  }

  /** Postfix prints start-up errors only to a terminal; its log has them. */
  private static String tail(String... command) throws IOException {
    for (int i = 0; i < command.length - 1; i++) {
      if (command[i].equals("-c")) {
        Path log = Path.of(command[i + 1]).resolveSibling("maillog");
        if (Files.exists(log)) {
          List<String> lines = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
          return "\n"
              + String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
        }
      }
    }
    return "";
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static void run(String... command) throws IOException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException(String.join(" ", command) + " did not finish");
      }
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (process.exitValue() != 0) {
        throw new IOException(String.join(" ", command) + " failed: " + output + tail(command));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }
}
