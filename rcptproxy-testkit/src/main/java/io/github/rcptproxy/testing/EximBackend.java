package io.github.rcptproxy.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * A real Exim 4.96, started from the package that {@code .ci/install-test-mtas} unpacked, on a free
 * loopback port with its own spool directory. Mailboxes {@code user0} to {@code user999} and {@code
 * postmaster} exist in {@value #DOMAIN}, other local parts are answered {@code 550 Unknown user}
 * (no enhanced status code, as stock Exim); {@value #CATCH_ALL_DOMAIN} accepts any local part.
 * Nothing is relayed, not even for 127.0.0.1, where the gateway and the tests connect from.
 * Accepted mail is appended to one mailbox file ({@link #delivered()}).
 *
 * <p>The ACL features that real sites add, each off by default, are chosen with {@link Options}.
 *
 * <p>Exim runs as root in a private mount namespace ({@code unshare -m}) where {@code /etc/passwd}
 * and {@code /etc/group} have its {@code Debian-exim} user and {@code /usr/sbin} is the unpacked
 * one (it re-executes itself as {@code /usr/sbin/exim4}); the host is not changed. Without root,
 * {@code unshare} or the unpacked package the calling test is skipped with a message, except under
 * CI ({@code CI=true}), where it fails.
 */
public final class EximBackend implements AutoCloseable {
  public static final String DOMAIN = "example.test";
  public static final String CATCH_ALL_DOMAIN = "catchall.test";
  public static final int MAILBOXES = 1000;
  private static final String DEFER_FLAG = "defer";
  private static final String EXIM_USER = "Debian-exim";

  /** Stands for the unknown-user rule, whose list file is only known at the start. */
  private static final String UNKNOWN_AS_POLICY = "unknown user as policy";

  private final Path dir;
  private final Path spool;
  private final int port;
  private final RealMta.Daemon daemon;

  private EximBackend(Path dir, Path spool, int port, RealMta.Daemon daemon) {
    this.dir = dir;
    this.spool = spool;
    this.port = port;
    this.daemon = daemon;
  }

  /** The ACL features of a started Exim; made with {@link Options#builder()}. */
  public record Options(
      boolean senderVerify,
      boolean ratioRule,
      boolean vrfyAllowed,
      Duration receiveTimeout,
      OptionalInt dropAfterFailures,
      Optional<String> dropMessage,
      int maxNonmail,
      boolean postmasterFirst,
      int recipientsMax,
      List<String> deferred,
      List<String> rcptRules,
      OptionalInt vrfyRatePerMinute,
      OptionalInt smarthost,
      boolean nullSenderRefusedAtMail,
      Duration tarpit,
      int recipientsPerMinute) {
    public Options {
      deferred = List.copyOf(deferred);
      rcptRules = List.copyOf(rcptRules);
      if (receiveTimeout.isNegative()
          || receiveTimeout.toSeconds() < 1
          || receiveTimeout.toMillis() % 1000 != 0) {
        throw new IllegalArgumentException(
            "receiveTimeout must be whole seconds, at least 1s: " + receiveTimeout);
      }
      if (dropAfterFailures.isPresent() && dropAfterFailures.getAsInt() < 0) {
        throw new IllegalArgumentException(
            "dropAfterFailures cannot be negative: " + dropAfterFailures.getAsInt());
      }
      if (maxNonmail < 0) {
        throw new IllegalArgumentException("maxNonmail cannot be negative: " + maxNonmail);
      }
    }

    /**
     * The rules that made the first version refuse real mailboxes, at once: sender verification,
     * the ratio rule, honest VRFY with its non-mail limit of 10, and a 2 s idle timeout.
     */
    public static Builder everyRule() {
      return builder()
          .senderVerify()
          .ratioRule()
          .vrfyAllowed()
          .receiveTimeout(Duration.ofSeconds(2));
    }

    /** Stock Exim: no sender verification, VRFY refused, 5-minute timeout, 10 non-mail commands. */
    public static Options defaults() {
      return builder().build();
    }

    public static Builder builder() {
      return new Builder();
    }

    /** Chooses Exim's ACL features; each is independent of the others. */
    public static final class Builder {
      private boolean senderVerify;
      private boolean ratioRule;
      private boolean vrfyAllowed;
      private Duration receiveTimeout = Duration.ofMinutes(5);
      private OptionalInt dropAfterFailures = OptionalInt.empty();
      private Optional<String> dropMessage = Optional.empty();
      private int maxNonmail = 10;
      private boolean postmasterFirst;
      private int recipientsMax;
      private List<String> deferred = List.of();

      /**
       * {@code recipients_max}: the recipients of a message past {@code n} get {@code 452 too many
       * recipients}.
       */
      public Builder recipientsMax(int n) {
        this.recipientsMax = n;
        return this;
      }

      private final List<String> rcptRules = new ArrayList<>();
      private OptionalInt vrfyRatePerMinute = OptionalInt.empty();
      private OptionalInt smarthost = OptionalInt.empty();

      /**
       * Exim as a site's outbound server instead of a backend: it takes any mail from loopback and
       * sends everything not for {@code client.test} to {@code 127.0.0.1:port} (the gateway under
       * test), one SMTP client among others; bounces for {@code client.test} are discarded. The ACL
       * and router features above do not apply.
       */
      public Builder smarthost(int port) {
        this.smarthost = OptionalInt.of(port);
        return this;
      }

      /**
       * {@code deny senders = : domains = +local_domains local_parts = !postmaster message = 5.1.1
       * policy: blocked} in the RCPT ACL: the null sender gets {@code 550 5.1.1 policy: blocked}
       * for every address but postmaster, a mailbox code for a policy.
       */
      public Builder nullSenderBlockedWithMailboxCode() {
        rcptRules.addAll(
            List.of(
                "  deny senders = :",
                "       domains = +local_domains",
                "       local_parts = !postmaster",
                "       message = 5.1.1 policy: blocked"));
        return this;
      }

      /**
       * A {@code defer} router for these local parts (existing mailboxes), first among the routers,
       * until {@link EximBackend#stopDeferring()}: their RCPTs get {@code 451}, as a mailbox being
       * moved or a lookup that fails does.
       */
      public Builder deferring(String... localParts) {
        this.deferred = List.of(localParts);
        return this;
      }

      /**
       * {@code deny domains = +local_domains local_parts = ! lsearch;USERS : ! postmaster message =
       * 5.7.1 <$local_part@$domain>: user unknown}: an unknown user refused with a policy code.
       */
      public Builder unknownUserWithPolicyCode() {
        rcptRules.add(UNKNOWN_AS_POLICY);
        return this;
      }

      /**
       * {@code deny domains = +local_domains !verify = recipient message = 5.1.1
       * <$local_part@$domain>: user unknown}: an unknown user refused with a mailbox's code, as a
       * site that writes its own message may.
       */
      public Builder unknownUserWithMailboxCode() {
        rcptRules.addAll(
            List.of(
                "  deny domains = +local_domains",
                "       !verify = recipient",
                "       message = 5.1.1 <$local_part@$domain>: user unknown"));
        return this;
      }

      /**
       * {@code warn condition = ${if > {$rcpt_fail_count}{0}} delay = N s} in the RCPT ACL (after
       * the rules added before it): every RCPT after the session's first failed recipient is
       * answered after the delay, as Postfix's {@code smtpd_error_sleep_time} slows replies; with a
       * {@code drop} on {@code $rcpt_fail_count}, the common Exim tarpit.
       */
      public Builder slowAfterFailures(Duration delay) {
        if (delay.isNegative() || delay.toMillis() % 1000 != 0) {
          throw new IllegalArgumentException("delay must be whole seconds: " + delay);
        }
        rcptRules.addAll(
            List.of(
                "  warn condition = ${if > {$rcpt_fail_count}{0}}",
                "       delay = " + delay.toSeconds() + "s"));
        return this;
      }

      /**
       * {@code deny local_parts = LOCALPART message = 5.2.1 <$local_part@$domain>: mailbox
       * disabled}: an existing mailbox refused as disabled.
       */
      public Builder disabledMailbox(String localPart) {
        rcptRules.addAll(
            List.of(
                "  deny domains = +local_domains",
                "       local_parts = " + localPart,
                "       message = 5.2.1 <$local_part@$domain>: mailbox disabled"));
        return this;
      }

      /**
       * {@code acl_smtp_vrfy} with {@code deny ratelimit = n / 1m / per_cmd /
       * $sender_host_address}, then {@code accept}: honest VRFY up to {@code n} a minute, past it
       * {@code 252 Administrative prohibition} for every address.
       */
      public Builder vrfyRateLimit(int perMinute) {
        if (perMinute < 1) {
          throw new IllegalArgumentException("vrfyRateLimit must be positive: " + perMinute);
        }
        this.vrfyRatePerMinute = OptionalInt.of(perMinute);
        return this;
      }

      private boolean nullSenderRefusedAtMail;
      private Duration tarpit = Duration.ZERO;
      private int recipientsPerMinute;

      /**
       * {@code accept local_parts = postmaster, domains = +local_domains} at the top of the RCPT
       * ACL, before every other rule, as in Exim's own example configuration (RFC 5321 wants
       * postmaster to be reachable whatever else is refused).
       */
      public Builder postmasterFirst() {
        this.postmasterFirst = true;
        return this;
      }

      private Builder() {}

      /**
       * {@code require verify = sender} in the RCPT ACL, as Exim's example configuration has. Only
       * {@code <>} and addresses in {@value #DOMAIN} (existing) and {@value #CATCH_ALL_DOMAIN}
       * verify (no DNS here): {@code rcptproxy@localhost} gets {@code 550 Verification failed for
       * <rcptproxy@localhost>} (last line {@code 550 Sender verify failed}) at every RCPT.
       */
      public Builder senderVerify() {
        this.senderVerify = true;
        return this;
      }

      /**
       * The bad-recipient ratio idiom: once more than 10 RCPTs were given in a transaction and
       * fewer than half of them accepted, every further RCPT gets {@code 550 Rejected for too many
       * bad recipients}.
       */
      public Builder ratioRule() {
        this.ratioRule = true;
        return this;
      }

      /**
       * {@code acl_smtp_vrfy = accept}: VRFY answers honestly ({@code 250 <a> is deliverable},
       * {@code 550 <a> Unknown user}). Without it Exim answers {@code 252 Administrative
       * prohibition}.
       */
      public Builder vrfyAllowed() {
        this.vrfyAllowed = true;
        return this;
      }

      /**
       * {@code smtp_receive_timeout}: a session idle this long gets an unasked {@code 421
       * backend.example.test: SMTP command timeout - closing connection} and is closed. Exim's
       * default is 5 minutes.
       */
      public Builder receiveTimeout(Duration timeout) {
        this.receiveTimeout = timeout;
        return this;
      }

      /**
       * {@code drop condition = ${if > {$rcpt_fail_count}{n}}} first in the RCPT ACL: the RCPT
       * after more than {@code n} rejected ones in the transaction is answered {@code 550
       * Administrative prohibition} and the connection is closed.
       */
      public Builder dropAfterFailures(int n) {
        if (n < 0) {
          throw new IllegalArgumentException("dropAfterFailures cannot be negative: " + n);
        }
        this.dropAfterFailures = OptionalInt.of(n);
        return this;
      }

      /**
       * The same drop answered {@code 550 message} instead: with {@code 5.1.1 ...} a mailbox's
       * code, about the session all the same (the connection is closed after it).
       */
      public Builder dropAfterFailures(int n, String message) {
        dropAfterFailures(n);
        this.dropMessage = Optional.of(message);
        return this;
      }

      /**
       * {@code smtp_accept_max_nonmail} (default 10): the non-mail command past it is answered
       * {@code 554 Too many nonmail commands} and the connection is closed. Counted per session,
       * never reset by MAIL: VRFY, NOOP, HELO/EHLO after the first, and every RSET after the first
       * (measured: 11 MAIL/RCPT/RSET cycles pass, the 12th RSET gets the 554).
       */
      public Builder maxNonmail(int n) {
        if (n < 0) {
          throw new IllegalArgumentException("maxNonmail cannot be negative: " + n);
        }
        this.maxNonmail = n;
        return this;
      }

      /**
       * {@code acl_smtp_mail} with {@code deny senders = : message = Bounces are not accepted
       * here}: {@code MAIL FROM:<>} is answered {@code 550 Bounces are not accepted here}.
       */
      public Builder nullSenderRefusedAtMail() {
        this.nullSenderRefusedAtMail = true;
        return this;
      }

      /**
       * {@code deny !verify = recipient, delay = N s, message = Unknown user} in the RCPT ACL: each
       * unknown recipient is refused {@code 550 Unknown user} after the delay (a tarpit).
       */
      public Builder tarpit(Duration delay) {
        if (delay.isNegative() || delay.toMillis() % 1000 != 0) {
          throw new IllegalArgumentException("tarpit must be whole seconds: " + delay);
        }
        this.tarpit = delay;
        return this;
      }

      /**
       * {@code defer ratelimit = N / 1m / per_rcpt / $sender_host_address} first in the RCPT ACL:
       * past N recipients a minute from this host, each is deferred.
       */
      public Builder recipientsPerMinute(int n) {
        if (n < 1) {
          throw new IllegalArgumentException("recipientsPerMinute must be positive: " + n);
        }
        this.recipientsPerMinute = n;
        return this;
      }

      public Options build() {
        return new Options(
            senderVerify,
            ratioRule,
            vrfyAllowed,
            receiveTimeout,
            dropAfterFailures,
            dropMessage,
            maxNonmail,
            postmasterFirst,
            recipientsMax,
            deferred,
            rcptRules,
            vrfyRatePerMinute,
            smarthost,
            nullSenderRefusedAtMail,
            tarpit,
            recipientsPerMinute);
      }
    }
  }

  /** A new stock Exim; skips (or, under CI, fails) the calling test without it. */
  public static EximBackend start() {
    return start(Options.defaults());
  }

  /** A new Exim with these ACL features; skips (or, under CI, fails) the test without it. */
  public static EximBackend start(Options options) {
    Path root = RealMta.packages().resolve("exim");
    RealMta.requireUsable("Exim", root.resolve("usr/sbin/exim4"));
    try {
      Path dir = RealMta.tempDirectory("rcptproxy-exim-");
      Path spool = Files.createDirectories(dir.resolve("spool"));
      Files.createDirectories(spool.resolve("log"));
      int uid = RealMta.privateUsers(dir, Map.of(EXIM_USER, "/nonexistent")).get(EXIM_USER);
      RealMta.chown(spool, uid);
      Files.writeString(
          dir.resolve("localparts"),
          IntStream.range(0, MAILBOXES)
                  .mapToObj(i -> "user" + i + "\n")
                  .collect(Collectors.joining())
              + "postmaster\n");
      if (!options.deferred().isEmpty()) {
        Files.writeString(dir.resolve(DEFER_FLAG), "");
      }
      Path conf = dir.resolve("exim.conf");
      Files.write(
          conf,
          options.smarthost().isPresent()
              ? clientConfiguration(options.smarthost().getAsInt(), spool)
              : configuration(options, dir, spool));
      int port = RealMta.freePort();
      List<String> command =
          List.of(
              RealMta.UNSHARE.toString(),
              "--mount",
              "--propagation",
              "private",
              "/bin/sh",
              "-c",
              "mount --bind \"$1/passwd\" /etc/passwd && mount --bind \"$1/group\" /etc/group"
                  + " && mount --bind \"$1/resolv.conf\" /etc/resolv.conf"
                  + " && mount --bind \"$2/usr/sbin\" /usr/sbin"
                  + " && exec /usr/sbin/exim4 -C \"$1/exim.conf\" -bdf -oX \"$3\"",
              "sh",
              dir.toString(),
              root.toString(),
              Integer.toString(port));
      RealMta.Daemon daemon = RealMta.startDaemon("Exim", command, dir.resolve("exim.out"), port);
      return new EximBackend(dir, spool, port, daemon);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Exim as a client: everything from loopback accepted and sent on to the smarthost. */
  private static List<String> clientConfiguration(int port, Path spool) {
    return List.of(
        "primary_hostname = mx.client.test",
        "local_interfaces = 127.0.0.1",
        "spool_directory = " + spool,
        "log_file_path = " + spool.resolve("log") + "/%slog",
        "host_lookup =",
        "rfc1413_hosts =",
        "keep_environment =",
        "acl_smtp_rcpt = accept",
        "",
        "begin routers",
        "bounces:",
        "  driver = redirect",
        "  domains = client.test",
        "  data = :blackhole:",
        "smarthost:",
        "  driver = manualroute",
        "  transport = gateway",
        "  route_list = * 127.0.0.1",
        "  self = send",
        "",
        "begin transports",
        "gateway:",
        "  driver = smtp",
        "  port = " + port,
        "  allow_localhost",
        "  hosts_avoid_tls = *");
  }

  private static List<String> configuration(Options options, Path dir, Path spool) {
    List<String> conf = new ArrayList<>();
    conf.add("primary_hostname = backend." + DOMAIN);
    conf.add("local_interfaces = 127.0.0.1");
    conf.add("spool_directory = " + spool);
    conf.add("log_file_path = " + spool.resolve("log") + "/%slog");
    conf.add("host_lookup =");
    conf.add("log_selector = +smtp_connection"); // one line per connection, for tests to count
    conf.add("rfc1413_hosts =");
    conf.add("keep_environment =");
    conf.add("domainlist local_domains = " + DOMAIN);
    conf.add("domainlist catchall_domains = " + CATCH_ALL_DOMAIN);
    conf.add("acl_smtp_rcpt = acl_check_rcpt");
    if (options.nullSenderRefusedAtMail()) {
      conf.add("acl_smtp_mail = acl_check_mail");
    }
    if (options.vrfyRatePerMinute().isPresent()) {
      conf.add("acl_smtp_vrfy = acl_check_vrfy");
    } else if (options.vrfyAllowed()) {
      conf.add("acl_smtp_vrfy = accept");
    }
    conf.add("smtp_accept_max_nonmail = " + options.maxNonmail());
    conf.add("smtp_receive_timeout = " + options.receiveTimeout().toSeconds() + "s");
    conf.add("recipients_max = " + options.recipientsMax());
    conf.add("");
    conf.add("begin acl");
    if (options.nullSenderRefusedAtMail()) {
      conf.add("acl_check_mail:");
      conf.add("  deny senders = :");
      conf.add("       message = Bounces are not accepted here");
      conf.add("  accept");
    }
    conf.add("acl_check_rcpt:");
    if (options.postmasterFirst()) {
      conf.add("  accept local_parts = postmaster");
      conf.add("         domains = +local_domains");
    }
    if (options.recipientsPerMinute() > 0) {
      conf.add(
          "  defer ratelimit = "
              + options.recipientsPerMinute()
              + " / 1m / per_rcpt / $sender_host_address");
    }
    options
        .dropAfterFailures()
        .ifPresent(
            n -> {
              conf.add("  drop condition = ${if > {$rcpt_fail_count}{" + n + "}}");
              options.dropMessage().ifPresent(message -> conf.add("       message = " + message));
            });
    if (options.senderVerify()) {
      conf.add("  require verify = sender");
    }
    if (options.ratioRule()) {
      conf.add("  deny message = Rejected for too many bad recipients");
      conf.add(
          "       condition = ${if and {{>{$rcpt_count}{10}}"
              + " {<{$recipients_count}{${eval:$rcpt_count/2}}}}}");
    }
    for (String rule : options.rcptRules()) {
      if (rule.equals(UNKNOWN_AS_POLICY)) {
        conf.add("  deny domains = +local_domains");
        conf.add("       local_parts = ! lsearch;" + dir.resolve("localparts") + " : ! postmaster");
        conf.add("       message = 5.7.1 <$local_part@$domain>: user unknown");
      } else {
        conf.add(rule);
      }
    }
    conf.add("  accept domains = +catchall_domains");
    conf.add("  require message = relay not permitted");
    conf.add("          domains = +local_domains");
    if (!options.tarpit().isZero()) {
      conf.add("  deny !verify = recipient");
      conf.add("       delay = " + options.tarpit().toSeconds() + "s");
      conf.add("       message = Unknown user");
    }
    conf.add("  require verify = recipient");
    conf.add("  accept");
    options
        .vrfyRatePerMinute()
        .ifPresent(
            n -> {
              conf.add("acl_check_vrfy:");
              conf.add("  deny ratelimit = " + n + " / 1m / per_cmd / $sender_host_address");
              conf.add("  accept");
            });
    conf.add("");
    conf.add("begin routers");
    if (!options.deferred().isEmpty()) {
      conf.add("deferred:");
      conf.add("  driver = redirect");
      conf.add("  domains = +local_domains");
      conf.add("  local_parts = " + String.join(" : ", options.deferred()));
      conf.add("  condition = ${if exists{" + dir.resolve(DEFER_FLAG) + "}}");
      conf.add("  allow_defer");
      conf.add("  data = :defer: Mailbox temporarily unavailable");
    }
    conf.add("catchall:");
    conf.add("  driver = accept");
    conf.add("  domains = +catchall_domains");
    conf.add("  transport = mailbox");
    conf.add("mailboxes:");
    conf.add("  driver = accept");
    conf.add("  domains = +local_domains");
    conf.add("  local_parts = lsearch;" + dir.resolve("localparts"));
    conf.add("  transport = mailbox");
    conf.add("unknown:");
    conf.add("  driver = redirect");
    conf.add("  domains = +local_domains");
    conf.add("  allow_fail");
    conf.add("  data = :fail: Unknown user");
    conf.add("");
    conf.add("begin transports");
    conf.add("mailbox:");
    conf.add("  driver = appendfile");
    conf.add("  file = " + spool.resolve("mailbox"));
    conf.add("  user = " + EXIM_USER);
    conf.add("  envelope_to_add");
    conf.add("  return_path_add");
    return conf;
  }

  public static String known(int n) {
    return "user" + n + "@" + DOMAIN;
  }

  public static String unknown(int n) {
    return "nobody" + n + "@" + DOMAIN;
  }

  /** From now on the {@linkplain Options.Builder#deferring deferred} mailboxes take mail. */
  public void stopDeferring() throws IOException {
    Files.deleteIfExists(dir.resolve(DEFER_FLAG));
  }

  /** From now on the {@linkplain Options.Builder#deferring deferred} mailboxes defer again. */
  public void startDeferring() throws IOException {
    Files.writeString(dir.resolve(DEFER_FLAG), "");
  }

  /** How many copies {@code address} was delivered, by the {@code Envelope-to:} of each. */
  public long deliveredTo(String address) {
    return delivered().lines().filter(line -> line.equals("Envelope-to: " + address)).count();
  }

  public int port() {
    return port;
  }

  /** Exim's main log, then its reject log (and panic log, if any). */
  public String log() {
    Path logs = spool.resolve("log");
    return mainLog()
        + RealMta.read(logs.resolve("rejectlog"))
        + RealMta.read(logs.resolve("paniclog"));
  }

  /** Exim's main log alone: one line per event (the reject log repeats some). */
  public String mainLog() {
    return RealMta.read(spool.resolve("log").resolve("mainlog"));
  }

  /** How many deliveries (one per accepted recipient) Exim has logged so far. */
  public long deliveredCount() {
    return log().lines().filter(line -> line.contains(" => ")).count();
  }

  /** The mailbox file every accepted recipient's mail is appended to, in mbox format. */
  public String delivered() {
    return RealMta.read(spool.resolve("mailbox"));
  }

  /** The temporary directory with the configuration, the spool and Exim's output. */
  Path directory() {
    return dir;
  }

  /** Stops Exim (sessions already open finish on their own); idempotent. */
  public void stop() {
    daemon.stop();
  }

  @Override
  public void close() {
    stop();
  }
}
