package io.github.rcptproxy.testing;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Dovecot, started as root from a temporary directory: an LMTP server ({@code
 * dovecot-lmtpd}) and an authentication service (for Postfix's {@code smtpd_sasl_type = dovecot}),
 * each on a free loopback port. Users come from a passwd-file: {@code user0} to {@code user9} in
 * {@value #DOMAIN}, password {@value #PASSWORD}, delivered mail kept in Maildirs; and {@code
 * full@}{@value #DOMAIN}, whose quota of one byte makes every delivery to it fail with {@code 552
 * 5.2.2} after {@code DATA} (Dovecot checks quota at delivery, not at {@code RCPT}).
 *
 * <p>Needs root, {@code /usr/sbin/dovecot} and {@code /usr/lib/dovecot/lmtp}: skipped without them,
 * except under CI ({@code CI=true}), where it fails.
 */
public final class DovecotBackend implements AutoCloseable {
  public static final String DOMAIN = "example.test";
  public static final String PASSWORD = "s3cret-Pa55";
  public static final String FULL = "full@" + DOMAIN;

  private static final Path DOVECOT = Path.of("/usr/sbin/dovecot");
  private static final Path LMTP = Path.of("/usr/lib/dovecot/lmtp");

  private final Path dir;
  private final int lmtpPort;
  private final int authPort;
  private final long pid;

  private DovecotBackend(Path dir, int lmtpPort, int authPort, long pid) {
    this.dir = dir;
    this.lmtpPort = lmtpPort;
    this.authPort = authPort;
    this.pid = pid;
  }

  public static String user(int n) {
    return "user" + n + "@" + DOMAIN;
  }

  /** Starts a new Dovecot; close it when done. */
  public static DovecotBackend start() {
    return start(false, false);
  }

  /**
   * Starts a new Dovecot with {@code lmtp_rcpt_check_quota = yes}: {@link #FULL} is refused at
   * {@code RCPT} with {@code 552 5.2.2 Quota exceeded}, not after {@code DATA}.
   */
  public static DovecotBackend startCheckingQuotaAtRcpt() {
    return start(true, false);
  }

  /**
   * As {@link #startCheckingQuotaAtRcpt}, with {@code quota_full_tempfail = yes}: {@link #FULL} is
   * refused at {@code RCPT} for now, {@code 452 4.2.2 Quota exceeded}.
   */
  public static DovecotBackend startWithQuotaFullTempfail() {
    return start(true, true);
  }

  private static DovecotBackend start(boolean quotaAtRcpt, boolean fullTempfail) {
    boolean available =
        Files.isExecutable(DOVECOT)
            && Files.isExecutable(LMTP)
            && "root".equals(System.getProperty("user.name"));
    if (!available && "true".equals(System.getenv("CI"))) {
      Assertions.fail(
          "CI=true but Dovecot LMTP is not usable here (needs root, "
              + DOVECOT
              + " and "
              + LMTP
              + "): .ci/run must install dovecot-core and dovecot-lmtpd");
    }
    Assumptions.assumeTrue(
        available,
        "Dovecot tests skipped: install dovecot-core and dovecot-lmtpd and run as root (.ci/run"
            + " does)");
    try {
      return launch(quotaAtRcpt, fullTempfail);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public int lmtpPort() {
    return lmtpPort;
  }

  /** Where Postfix asks Dovecot to check SASL credentials ({@code smtpd_sasl_path = inet:...}). */
  public int authPort() {
    return authPort;
  }

  /** The Postfix {@code main.cf} lines that authenticate SMTP clients against this Dovecot. */
  public List<String> postfixSaslLines() {
    return List.of(
        "smtpd_sasl_auth_enable = yes",
        "smtpd_sasl_type = dovecot",
        "smtpd_sasl_path = inet:127.0.0.1:" + authPort);
  }

  /**
   * The {@code main.cf} lines of a Postfix that serves only clients that authenticated against this
   * Dovecot, and only over TLS: {@code tlsLevel} {@code may} or {@code encrypt}, with the shared
   * test certificate.
   */
  public List<String> postfixRequiringAuth(TestCertificates certificates, String tlsLevel) {
    List<String> mainCf = new java.util.ArrayList<>(postfixSaslLines());
    mainCf.addAll(
        List.of(
            "smtpd_tls_security_level = " + tlsLevel,
            "smtpd_tls_cert_file = " + certificates.serverCertificate(),
            "smtpd_tls_key_file = " + certificates.serverKey(),
            "smtpd_tls_auth_only = yes",
            "smtpd_client_restrictions = permit_sasl_authenticated, reject"));
    return mainCf;
  }

  /** The messages delivered to the user's INBOX so far, each as its text. */
  public List<String> delivered(String user) throws IOException {
    Path maildir = dir.resolve("mail").resolve(user).resolve("Maildir");
    List<String> messages = new java.util.ArrayList<>();
    for (String sub : List.of("new", "cur")) {
      Path folder = maildir.resolve(sub);
      if (Files.isDirectory(folder)) {
        try (Stream<Path> files = Files.list(folder)) {
          for (Path file : files.sorted().toList()) {
            messages.add(Files.readString(file, StandardCharsets.UTF_8));
          }
        }
      }
    }
    return messages;
  }

  /** Dovecot's log. */
  public String log() throws IOException {
    Path log = dir.resolve("dovecot.log");
    return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
  }

  @Override
  public void close() {
    Optional<ProcessHandle> master = ProcessHandle.of(pid);
    if (master.isPresent()) {
      master.get().destroy();
      try {
        master.get().onExit().get(30, TimeUnit.SECONDS);
      } catch (Exception e) {
        master.get().destroyForcibly();
      }
    }
  }

  private static DovecotBackend launch(boolean quotaAtRcpt, boolean fullTempfail)
      throws IOException {
    Path dir = Files.createTempDirectory("rcptproxy-dovecot-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path mail = Files.createDirectories(dir.resolve("mail"));
    Files.setPosixFilePermissions(mail, PosixFilePermissions.fromString("rwxrwxrwx"));
    Files.createDirectories(dir.resolve("run"));
    Files.createDirectories(dir.resolve("state"));
    // nobody (65534) owns the mail: Dovecot refuses to deliver as root
    String users =
        IntStream.range(0, 10)
                .mapToObj(
                    i ->
                        user(i)
                            + ":{PLAIN}"
                            + PASSWORD
                            + ":65534:65534::"
                            + mail
                            + "/"
                            + user(i)
                            + "::\n")
                .collect(Collectors.joining())
            + FULL
            + ":{PLAIN}"
            + PASSWORD
            + ":65534:65534::"
            + mail
            + "/"
            + FULL
            + "::userdb_quota_rule=*:storage=1B\n";
    Files.writeString(dir.resolve("users"), users);
    if (quotaAtRcpt) {
      fillMailbox(mail.resolve(FULL));
    }
    int lmtpPort = freePort();
    int authPort = freePort();
    Path conf = dir.resolve("dovecot.conf");
    Files.writeString(
        conf,
        String.join(
            "\n",
            "base_dir = " + dir.resolve("run"),
            "state_dir = " + dir.resolve("state"),
            "log_path = " + dir.resolve("dovecot.log"),
            "protocols = lmtp",
            "listen = 127.0.0.1",
            "ssl = no",
            "auth_mechanisms = plain login",
            "auth_failure_delay = 0",
            "disable_plaintext_auth = no",
            "default_internal_user = dovecot",
            "default_login_user = dovenull",
            "mail_location = maildir:~/Maildir",
            "mail_plugins = quota",
            "lmtp_rcpt_check_quota = " + (quotaAtRcpt ? "yes" : "no"),
            "quota_full_tempfail = " + (fullTempfail ? "yes" : "no"),
            "plugin {",
            "  quota = count:User quota",
            "  quota_vsizes = yes",
            "}",
            "passdb {",
            "  driver = passwd-file",
            "  args = scheme=PLAIN username_format=%u " + dir.resolve("users"),
            "}",
            "userdb {",
            "  driver = passwd-file",
            "  args = username_format=%u " + dir.resolve("users"),
            "}",
            "service lmtp {",
            "  inet_listener lmtp {",
            "    address = 127.0.0.1",
            "    port = " + lmtpPort,
            "  }",
            "}",
            "service auth {",
            "  inet_listener {",
            "    address = 127.0.0.1",
            "    port = " + authPort,
            "  }",
            "}",
            ""));
    run(dir.resolve("start.log"), DOVECOT.toString(), "-c", conf.toString());
    Path pidFile = dir.resolve("run").resolve("master.pid");
    await("Dovecot master.pid")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> Files.exists(pidFile) && !Files.readString(pidFile).isBlank());
    long pid = Long.parseLong(Files.readString(pidFile).strip());
    DovecotBackend dovecot = new DovecotBackend(dir, lmtpPort, authPort, pid);
    Thread hook = new Thread(dovecot::close, "stop Dovecot " + dir);
    Runtime.getRuntime().addShutdownHook(hook);
    await("Dovecot LMTP greeting on port " + lmtpPort)
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () -> {
              try (SmtpClient client = new SmtpClient("127.0.0.1", lmtpPort)) {
                return client.readReply().startsWith("220");
              }
            });
    await("Dovecot auth on port " + authPort)
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () -> {
              try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", authPort), 1000);
                return true;
              }
            });
    return dovecot;
  }

  /**
   * One message already in the mailbox, so that its quota of one byte is exceeded before any
   * delivery: what {@code lmtp_rcpt_check_quota} checks at RCPT.
   */
  private static void fillMailbox(Path home) throws IOException {
    Path maildir = home.resolve("Maildir");
    for (String sub : List.of("cur", "new", "tmp")) {
      Files.createDirectories(maildir.resolve(sub));
    }
    Files.writeString(
        maildir.resolve("new").resolve("1.filler.test"),
        "Subject: filler\r\n\r\nthis mailbox is over its quota\r\n");
    try (Stream<Path> paths = Files.walk(home)) {
      for (Path path : paths.toList()) {
        Files.setAttribute(path, "unix:uid", 65534);
        Files.setAttribute(path, "unix:gid", 65534);
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** Runs a command whose output goes to a file: Dovecot's daemon would hold a pipe open. */
  private static void run(Path output, String... command) throws IOException {
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(output.toFile())
            .start();
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
        throw new IOException(
            String.join(" ", command)
                + " failed: "
                + Files.readString(output, StandardCharsets.UTF_8));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }
}
