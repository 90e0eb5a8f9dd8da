package io.github.rcptproxy.cli;

import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.ClientSecurity;
import io.github.rcptproxy.internal.smtp.ClientSecurityException;
import io.github.rcptproxy.internal.smtp.SmtpConnection;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * What an admin needs to know about a backend before letting rcptproxy ask it: whether RCPT and
 * VRFY answer honestly (a random local part is refused as a mailbox), whether the domain is a
 * catch-all, whether the backend verifies the probe sender, what it offers, and how many rejections
 * or VRFYs a session takes before it slows down or hangs up. Limits are measured by stopping at the
 * first slowed or refused reply, never pushing on to the backend's hard limit. It speaks to the
 * backend as the verifier does: STARTTLS, AUTH and LMTP as configured.
 */
final class BackendProbe {
  /** A reply this much slower than the session's first ones counts as a deliberate delay. */
  private static final long DELAY_NANOS = Duration.ofMillis(300).toNanos();

  private final VerifierConfig config;
  private final ClientSecurity security;
  private final String domain;
  private final String probeSender;
  private final Duration timeout;
  private final int maxRejections;
  private final int maxVrfy;
  private final SecureRandom random = new SecureRandom();

  /**
   * Probes the first backend of {@code config}, with its EHLO name, probe sender, TLS, AUTH and
   * protocol; {@link VerifierConfig#deadline()} bounds the connect and each read.
   */
  BackendProbe(VerifierConfig config, String domain, int maxRejections, int maxVrfy) {
    this.config = config;
    this.security = new ClientSecurity(config);
    this.domain = domain;
    this.probeSender = config.probeSender();
    this.timeout = config.deadline();
    this.maxRejections = maxRejections;
    this.maxVrfy = maxVrfy;
  }

  /** A limit found, or not within the number of commands tried. */
  record Limit(int afterCommands, String how) {
    static Limit none(int tried) {
      return new Limit(-1, "none within " + tried);
    }

    boolean found() {
      return afterCommands >= 0;
    }

    @Override
    public String toString() {
      return found() ? how + " after " + afterCommands : how;
    }
  }

  record Report(
      String greeting,
      Set<String> extensions,
      String randomRcpt,
      String postmasterRcpt,
      String randomVrfy,
      String postmasterVrfy,
      String foreignSenderRcpt,
      Limit rejections,
      Limit vrfys) {

    boolean offers(String extension) {
      return extensions.contains(extension);
    }

    boolean rcptHonest() {
      return mailboxRefusal(randomRcpt) && postmasterRcpt.startsWith("2");
    }

    boolean catchAll() {
      return randomRcpt.startsWith("2");
    }

    boolean vrfyHonest() {
      return mailboxRefusal(randomVrfy) && postmasterVrfy.startsWith("25");
    }

    /** The backend refused a made-up sender: it verifies senders. */
    boolean verifiesSenders() {
      return !foreignSenderRcpt.startsWith("2") && postmasterRcpt.startsWith("2");
    }

    private static boolean mailboxRefusal(String reply) {
      return reply.startsWith("55") && !reply.matches("^5\\d\\d[ -]5\\.[3-7]\\..*");
    }
  }

  Report run() throws IOException {
    String greeting;
    Set<String> extensions;
    String randomRcpt;
    String postmasterRcpt;
    try (Session s = new Session()) {
      greeting = s.greeting();
      extensions = s.offered();
      expect(s.command("MAIL FROM:<" + probeSender + ">"), "MAIL FROM:<" + probeSender + ">");
      randomRcpt = s.command("RCPT TO:<" + randomLocalPart() + "@" + domain + ">");
      postmasterRcpt = s.command("RCPT TO:<postmaster@" + domain + ">");
    }
    String randomVrfy;
    String postmasterVrfy;
    try (Session s = new Session()) {
      randomVrfy = s.command("VRFY " + randomLocalPart() + "@" + domain);
      postmasterVrfy = s.command("VRFY postmaster@" + domain);
    }
    String foreignSenderRcpt;
    try (Session s = new Session()) {
      String mail = s.command("MAIL FROM:<" + randomLocalPart() + "@sender-check.invalid>");
      foreignSenderRcpt =
          mail.startsWith("2") ? s.command("RCPT TO:<postmaster@" + domain + ">") : mail;
    }
    Limit rejections = rejectionLimit();
    Limit vrfys = vrfyLimit();
    return new Report(
        greeting,
        Set.copyOf(extensions),
        randomRcpt,
        postmasterRcpt,
        randomVrfy,
        postmasterVrfy,
        foreignSenderRcpt,
        rejections,
        vrfys);
  }

  /** Unknown recipients in one transaction until a reply is slowed, refused or the session ends. */
  private Limit rejectionLimit() throws IOException {
    try (Session s = new Session()) {
      expect(s.command("MAIL FROM:<" + probeSender + ">"), "MAIL FROM");
      return limit(s, maxRejections, () -> "RCPT TO:<" + randomLocalPart() + "@" + domain + ">");
    }
  }

  /**
   * VRFY of postmaster (no error by itself) until a reply is slowed, refused or the session ends.
   */
  private Limit vrfyLimit() throws IOException {
    try (Session s = new Session()) {
      return limit(s, maxVrfy, () -> "VRFY postmaster@" + domain);
    }
  }

  private Limit limit(Session s, int max, java.util.function.Supplier<String> command)
      throws IOException {
    long fastest = Long.MAX_VALUE;
    String last = "none";
    for (int n = 1; n <= max; n++) {
      long start = System.nanoTime();
      String reply;
      try {
        reply = s.command(command.get());
      } catch (IOException ended) {
        // the end of the stream (or a malformed reply): the session is over
        return new Limit(n - 1, "hangs up (last reply: " + last + ")");
      }
      long took = System.nanoTime() - start;
      last = reply;
      if (reply.startsWith("421") || reply.startsWith("554")) {
        return new Limit(n - 1, "ends the session (" + reply + ")");
      }
      if (took - Math.min(fastest, took) > DELAY_NANOS) {
        return new Limit(n - 1, "delays replies by " + took / 1_000_000 + " ms");
      }
      fastest = Math.min(fastest, took);
    }
    return Limit.none(max);
  }

  /** The configuration it recommends, as gateway/policy options. */
  static List<String> recommend(Report r) {
    List<String> lines = new ArrayList<>();
    if (r.catchAll()) {
      lines.add(
          "# the backend accepts any address in this domain: verification tells nothing;"
              + " add --catch-all-ttl-s 3600 or do not verify this domain");
    }
    if (!r.rcptHonest() && !r.catchAll()) {
      lines.add(
          "# RCPT does not refuse a random local part as a mailbox ("
              + r.randomRcpt()
              + "): check the backend's recipient validation before relying on rcptproxy");
    }
    lines.add("--probe-method " + (r.vrfyHonest() ? "vrfy" : "rcpt"));
    if (r.verifiesSenders()) {
      lines.add("--probe-sender '' # the backend verifies senders: keep the null sender");
    }
    if (r.rejections().found()) {
      lines.add(
          "--max-rejections-per-session "
              + Math.max(1, r.rejections().afterCommands() - 2)
              + " # it "
              + r.rejections());
    }
    if (r.vrfyHonest() && r.vrfys().found()) {
      lines.add(
          "--max-vrfy-per-session "
              + Math.max(1, r.vrfys().afterCommands() - Math.max(1, r.vrfys().afterCommands() / 10))
              + " # it "
              + r.vrfys());
    }
    return lines;
  }

  private String randomLocalPart() {
    byte[] bytes = new byte[8];
    random.nextBytes(bytes);
    return "rcptproxy-probe-" + HexFormat.of().formatHex(bytes);
  }

  private static void expect(String reply, String what) throws IOException {
    if (!reply.startsWith("2")) {
      throw new IOException("the backend refused " + what + ": " + reply);
    }
  }

  /**
   * A session to the backend, greeted, secured and authenticated as configured; every read bounded
   * by the timeout. Replies are read by the one strict reader (a malformed one, or the end of the
   * stream, is an {@link IOException}); closing says {@code QUIT} first.
   */
  private final class Session implements AutoCloseable {
    private final SmtpConnection connection;

    Session() throws IOException {
      String host = config.backendHost().orElseThrow();
      InetSocketAddress address = new InetSocketAddress(host, config.backendPort());
      try {
        connection =
            SmtpConnection.open(
                () -> SmtpConnection.Endpoint.connect(address, host, timeout),
                SmtpConnection.Timeout.eachRead(timeout),
                config,
                security);
      } catch (ClientSecurityException e) {
        throw new IOException(e.getMessage(), e);
      }
    }

    /** The greeting, on one line safe to print (code, enhanced status code, text). */
    String greeting() {
      return connection.greeting().toString();
    }

    /**
     * What the backend offers: its last EHLO's keywords, and STARTTLS where the session went over
     * it (a backend offers it only before).
     */
    Set<String> offered() {
      Set<String> offered = new HashSet<>(connection.extensions().keySet());
      if (connection.encrypted()) {
        offered.add("STARTTLS");
      }
      return offered;
    }

    /** Sends a command and returns its reply on one line safe to print. */
    String command(String command) throws IOException {
      return connection.send(command).toString();
    }

    @Override
    public void close() {
      connection.quit();
      connection.close();
    }
  }
}
