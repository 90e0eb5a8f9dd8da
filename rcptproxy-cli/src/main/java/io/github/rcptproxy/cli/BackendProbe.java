package io.github.rcptproxy.cli;

import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.ClientSecurity;
import io.github.rcptproxy.internal.smtp.ClientSecurityException;
import io.github.rcptproxy.internal.smtp.SmtpConnection;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
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
  /** How long the probe waits for a greeting: past Postfix postscreen's 6 s greet wait. */
  static final Duration GREETING_WAIT = Duration.ofSeconds(30);

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

    /** Not a limit: the first reply was as slow already (a tarpit). */
    Limit slowFromTheStart(long millis) {
      return new Limit(-1, "none: the first reply took " + millis + " ms already (a tarpit)");
    }

    @Override
    public String toString() {
      return found() ? how + " after " + afterCommands : how;
    }
  }

  /**
   * What the backend answered.
   *
   * @param greetingMillis how long the greeting of the first session took
   * @param sender the probe sender the answers below were given to: the configured one, or {@code
   *     postmaster@domain} where the backend refused the configured one
   * @param senderRefusal the backend's refusal of the configured sender (at {@code MAIL}, or the
   *     different answer it gave the random local part), empty if none
   * @param randomRcptMillis how long the refusal (or acceptance) of the random local part took
   * @param heloRefusal the backend's refusal of every recipient that names the configured HELO name
   *     (Postfix refuses a bad one at RCPT), empty if none
   */
  record Report(
      String greeting,
      long greetingMillis,
      Set<String> extensions,
      String sender,
      String senderRefusal,
      String randomRcpt,
      long randomRcptMillis,
      String postmasterRcpt,
      String randomVrfy,
      String postmasterVrfy,
      String foreignSenderRcpt,
      Limit rejections,
      Limit vrfys,
      String heloRefusal) {

    boolean offers(String extension) {
      return extensions.contains(extension);
    }

    /**
     * RCPT refuses a random local part as a mailbox: with an enhanced code about the mailbox, or
     * without one where postmaster is accepted (the refusal is then not one of everything).
     */
    boolean rcptHonest() {
      return mailboxRefusal(randomRcpt)
          && (mailboxCode(randomRcpt) || postmasterRcpt.startsWith("2"));
    }

    boolean catchAll() {
      return randomRcpt.startsWith("2");
    }

    /** VRFY refuses a random local part as a mailbox, judged as {@link #rcptHonest}. */
    boolean vrfyHonest() {
      return mailboxRefusal(randomVrfy)
          && (mailboxCode(randomVrfy) || postmasterVrfy.startsWith("25"));
    }

    /** The backend refused a made-up sender: it verifies senders. */
    boolean verifiesSenders() {
      return !foreignSenderRcpt.startsWith("2") && postmasterRcpt.startsWith("2");
    }

    /** The refusal of an unknown recipient comes later than a verification may wait. */
    boolean tarpit() {
      return !catchAll() && randomRcptMillis >= SLOW_MILLIS;
    }

    private static boolean mailboxRefusal(String reply) {
      return reply.startsWith("55") && !reply.matches("^5\\d\\d[ -]5\\.[3-7]\\..*");
    }

    private static boolean mailboxCode(String reply) {
      return reply.matches("^5\\d\\d[ -]5\\.(1\\.[1-46]|1\\.10|2\\.[12])\\b.*");
    }
  }

  /** A reply this slow is a deliberate delay: the verifier's default deadline is 3 s. */
  static final long SLOW_MILLIS = 1000;

  Report run() throws IOException {
    String greeting;
    long greetingMillis;
    Set<String> extensions;
    String sender = probeSender;
    String senderRefusal = "";
    String[] rcpt;
    try (Session s = new Session()) {
      greeting = s.greeting();
      greetingMillis = s.greetingMillis;
      extensions = s.offered();
      String mail = s.command("MAIL FROM:<" + probeSender + ">");
      if (mail.startsWith("2")) {
        rcpt = randomAndPostmaster(s);
      } else {
        senderRefusal = mail;
        sender = fallbackSender();
        expect(s.command("RSET"), "RSET");
        expect(s.command("MAIL FROM:<" + sender + ">"), "MAIL FROM:<" + sender + ">");
        rcpt = randomAndPostmaster(s);
      }
    }
    if (senderRefusal.isEmpty() && !rcpt[0].startsWith("2") && !sender.equals(fallbackSender())) {
      String[] fromFallback;
      try (Session s = new Session()) {
        expect(s.command("MAIL FROM:<" + fallbackSender() + ">"), "MAIL FROM");
        fromFallback = randomAndPostmaster(s);
      }
      if (!sameRefusal(rcpt[0], fromFallback[0])) {
        senderRefusal = rcpt[0];
        sender = fallbackSender();
        rcpt = fromFallback;
      }
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
    Limit rejections = rejectionLimit(sender);
    Limit vrfys = vrfyLimit();
    return new Report(
        greeting,
        greetingMillis,
        Set.copyOf(extensions),
        sender,
        senderRefusal,
        rcpt[0],
        Long.parseLong(rcpt[2]),
        rcpt[1],
        randomVrfy,
        postmasterVrfy,
        foreignSenderRcpt,
        rejections,
        vrfys,
        heloRefusal(rcpt[0], rcpt[1]));
  }

  /**
   * The refusal of both recipients where it is the same and names the configured HELO name, as
   * Postfix's {@code 504 5.5.2 <world>: Helo command rejected} does; empty otherwise.
   */
  private String heloRefusal(String random, String postmaster) {
    boolean namesHelo =
        config.heloName().map(name -> random.contains("<" + name + ">")).orElse(false);
    return namesHelo && !random.startsWith("2") && sameRefusal(random, postmaster) ? random : "";
  }

  /** The replies to a random local part and to postmaster, and how long the first took in ms. */
  private String[] randomAndPostmaster(Session s) throws IOException {
    long started = System.nanoTime();
    String random = s.command("RCPT TO:<" + randomLocalPart() + "@" + domain + ">");
    long millis = (System.nanoTime() - started) / 1_000_000;
    String postmaster = s.command("RCPT TO:<postmaster@" + domain + ">");
    return new String[] {random, postmaster, Long.toString(millis)};
  }

  /** The sender the verifier falls back to where the backend refuses the configured one. */
  private String fallbackSender() {
    return "postmaster@" + domain;
  }

  /** The same code and enhanced code: the random address is in each, so the text may differ. */
  private static boolean sameRefusal(String first, String second) {
    String[] a = first.split(" ", 3);
    String[] b = second.split(" ", 3);
    boolean enhanced = a.length > 1 && a[1].matches("[245]\\.\\d+\\.\\d+");
    return a[0].equals(b[0]) && (!enhanced || b.length > 1 && a[1].equals(b[1]));
  }

  /** Unknown recipients in one transaction until a reply is slowed, refused or the session ends. */
  private Limit rejectionLimit(String sender) throws IOException {
    try (Session s = new Session()) {
      expect(s.command("MAIL FROM:<" + sender + ">"), "MAIL FROM");
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
      if (n == 1 && took >= SLOW_MILLIS * 1_000_000) {
        return Limit.none(0).slowFromTheStart(took / 1_000_000);
      }
      if (took - Math.min(fastest, took) > DELAY_NANOS || took >= SLOW_MILLIS * 1_000_000) {
        return new Limit(n - 1, "delays replies by " + took / 1_000_000 + " ms");
      }
      fastest = Math.min(fastest, took);
    }
    return Limit.none(max);
  }

  /**
   * The configuration it recommends, as options that the gateway and the policy server both take;
   * comments (from {@code #}) say why.
   */
  static List<String> recommend(Report r) {
    List<String> lines = new ArrayList<>();
    if (!r.heloRefusal().isEmpty()) {
      lines.add(
          "# the backend refuses every recipient for the HELO name ("
              + r.heloRefusal()
              + "): give --helo a fully qualified name of this host, or leave it out (the"
              + " default is this host's name, else its address)");
      return lines;
    }
    if (r.catchAll()) {
      lines.add(
          "# the backend accepts any address in this domain: verification tells nothing;"
              + " add --catch-all-ttl-s 3600 or do not verify this domain");
    } else if (!r.rcptHonest()) {
      lines.add(
          "# RCPT does not refuse a random local part as a mailbox ("
              + r.randomRcpt()
              + "): check the backend's recipient validation before relying on rcptproxy");
    }
    if (!r.senderRefusal().isEmpty()) {
      lines.add(
          "--probe-sender "
              + r.sender()
              + " # the backend refuses the probe sender ("
              + r.senderRefusal()
              + "); the verifier would also fall back to it by itself, with a warning");
    } else if (r.verifiesSenders()) {
      lines.add("--probe-sender '" + r.sender() + "' # the backend verifies senders: keep it");
    }
    if (r.vrfyHonest()) {
      lines.add("--probe-method vrfy");
    } else if (r.tarpit()) {
      lines.add(
          "--timeout-ms "
              + timeoutFor(r.randomRcptMillis())
              + " # VRFY does not answer, and RCPT refusals take "
              + r.randomRcptMillis()
              + " ms (a tarpit): a shorter deadline turns every unknown recipient into an"
              + " unverified one");
    } else {
      lines.add("--probe-method rcpt");
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
    if (r.greetingMillis() >= SLOW_MILLIS) {
      lines.add(
          "# the backend greeted after "
              + r.greetingMillis()
              + " ms (a greeting delay: Postfix postscreen's greet wait, an Exim connect ACL"
              + " delay): verifications are answered unverified until the verifier, waiting in the"
              + " background, has been greeted; where the backend then remembers this host"
              + " (postscreen_greet_ttl) that is a warm-up once after each start, else each new"
              + " session waits for it again: exempt this host from the delay"
              + " (postscreen_access_list = permit_mynetworks with this host in mynetworks) or use"
              + " a port without it");
    }
    return lines;
  }

  /** A deadline the slowest refusal fits in, with room for the control question after it. */
  static long timeoutFor(long refusalMillis) {
    return (refusalMillis * 2 + 1000 + 999) / 1000 * 1000;
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
    private final long greetingMillis;

    Session() throws IOException {
      String host = config.backendHost().orElseThrow();
      InetSocketAddress address = new InetSocketAddress(host, config.backendPort());
      GreetingFirst wait = new GreetingFirst(timeout);
      long started = System.nanoTime();
      try {
        connection =
            SmtpConnection.open(
                () -> {
                  SmtpConnection.Endpoint endpoint =
                      SmtpConnection.Endpoint.connect(address, host, timeout);
                  SmtpConnection greeted = new SmtpConnection(endpoint.socket(), wait);
                  try {
                    greeted.greet();
                  } catch (IOException e) {
                    greeted.close();
                    throw e;
                  }
                  wait.greeted();
                  return new SmtpConnection.Endpoint(endpoint.socket(), host, greeted);
                },
                wait,
                config,
                security);
      } catch (ClientSecurityException e) {
        throw new IOException(e.getMessage(), e);
      } catch (SocketTimeoutException e) {
        if (!wait.greeted) {
          throw new SocketTimeoutException(
              "no greeting within "
                  + GREETING_WAIT.toSeconds()
                  + " s: a greeting delay (Postfix postscreen's greet wait?) longer than any"
                  + " verification waits");
        }
        throw e;
      }
      greetingMillis = wait.greetingMillis(started);
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

  /** {@link #GREETING_WAIT} for the greeting, the probe's timeout for each read after it. */
  private static final class GreetingFirst implements SmtpConnection.Timeout {
    private final Duration timeout;
    private volatile boolean greeted;
    private volatile long greetedAt;

    GreetingFirst(Duration timeout) {
      this.timeout = timeout;
    }

    @Override
    public int millis(long replyStarted) {
      return (int) Math.max(1, (greeted ? timeout : GREETING_WAIT).toMillis());
    }

    void greeted() {
      greetedAt = System.nanoTime();
      greeted = true;
    }

    long greetingMillis(long started) {
      return (greetedAt - started) / 1_000_000;
    }
  }
}
