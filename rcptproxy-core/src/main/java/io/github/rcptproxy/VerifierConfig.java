package io.github.rcptproxy;

import io.github.rcptproxy.internal.InvalidAddressException;
import io.github.rcptproxy.internal.Mailbox;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Immutable configuration of a {@link RecipientVerifier}. Built with {@link #builder()}; every
 * value is checked by {@link Builder#build()}, which refuses (never corrects) a bad one.
 *
 * <p>Defaults follow the 2005 original where it had the option (port 25, idle timeout 300 s,
 * maximum session age 1800 s, deadline 3000 ms), except three that harmed backends: the HELO name
 * is this host's fully qualified name (the original's {@code world} is refused by backends that
 * want one), the probe sender is the null sender {@code <>} (the original's {@code
 * rcptproxy@localhost} fails sender verification on Exim's stock configuration), and recipients are
 * asked with {@code VRFY} where the backend proved to answer it honestly ({@link
 * ProbeMethod#VRFY}), which opens no transaction.
 */
public final class VerifierConfig {

  /** Postfix's {@code smtpd_recipient_limit} is 1000; stay well below any server's limit. */
  static final int MAX_RECIPIENTS_PER_TRANSACTION_LIMIT = 1000;

  /** The values, in a copy of the builder that is never handed out (one list of fields). */
  private final Builder values;

  /** What VERIFY trusts, built from the PEM file where one was given. */
  private final SSLContext trust;

  private VerifierConfig(Builder b, SSLContext trust) {
    this.values = b.copy();
    this.trust = trust;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this configuration's values, to derive a changed copy. */
  public Builder toBuilder() {
    return values.copy();
  }

  /**
   * The backend hosts, in the order they are tried, as unresolved host names or IP addresses with
   * their ports; empty when none is configured.
   */
  public List<InetSocketAddress> backends() {
    return values.backends;
  }

  /** The first backend's host name or IP address; empty when none is configured. */
  public Optional<String> backendHost() {
    return values.backends.isEmpty()
        ? Optional.empty()
        : Optional.of(values.backends.get(0).getHostString());
  }

  /** The first backend's port (25 when none is configured). */
  public int backendPort() {
    return values.backends.isEmpty() ? 25 : values.backends.get(0).getPort();
  }

  /**
   * How long a backend address that did not answer is skipped, and (OPPORTUNISTIC) one whose TLS
   * handshake failed gets no STARTTLS.
   */
  public Duration backendCoolDown() {
    return values.backendCoolDown;
  }

  /**
   * The name sent with {@code EHLO}; empty for the default: this host's fully qualified name, else
   * the address literal of the connection's local end (a bare name such as the original's {@code
   * world} is refused by Postfix's {@code reject_non_fqdn_helo_hostname}).
   */
  public Optional<String> heloName() {
    return Optional.ofNullable(values.heloName);
  }

  /** The probe sender's address; empty for the null reverse-path {@code <>}. */
  public String probeSender() {
    return values.probeSender;
  }

  /** Addresses the operator names as existing mailboxes: controls before any is learnt. */
  public List<String> knownGood() {
    return values.knownGood;
  }

  /** Where the verifier keeps what it learnt across restarts; empty if nowhere. */
  public Optional<Path> stateDirectory() {
    return Optional.ofNullable(values.stateDirectory);
  }

  public Duration idleTimeout() {
    return values.idleTimeout;
  }

  public Duration maxSessionAge() {
    return values.maxSessionAge;
  }

  public Duration deadline() {
    return values.deadline;
  }

  public Duration connectTimeout() {
    return values.connectTimeout;
  }

  public int maxSessions() {
    return values.maxSessions;
  }

  public ProbeMethod probeMethod() {
    return values.probeMethod;
  }

  public boolean transactionPerVerification() {
    return values.transactionPerVerification;
  }

  public int maxRejectionsPerSession() {
    return values.maxRejectionsPerSession;
  }

  public int maxRecipientsPerTransaction() {
    return values.maxRecipientsPerTransaction;
  }

  public int maxVrfyPerSession() {
    return values.maxVrfyPerSession;
  }

  public Clock clock() {
    return values.clock;
  }

  /** Whether verdicts are cached (off by default). */
  public boolean cacheEnabled() {
    return values.positiveTtl != null;
  }

  /** How long an accepted recipient is remembered; empty when caching is off. */
  public Optional<Duration> positiveTtl() {
    return Optional.ofNullable(values.positiveTtl);
  }

  /** How long a rejected recipient is remembered; empty when caching is off. */
  public Optional<Duration> negativeTtl() {
    return Optional.ofNullable(values.negativeTtl);
  }

  public long cacheMaxEntries() {
    return values.cacheMaxEntries;
  }

  /** The cache shared with other verifiers, if one was given instead of the verifier's own. */
  public Optional<VerdictCache> sharedCache() {
    return Optional.ofNullable(values.sharedCache);
  }

  /**
   * The store shared with other verifiers for findings only (known-good addresses, catch-all and
   * VRFY-trust findings, backend addresses skipped for not answering), if one was given to a
   * verifier without a shared cache; see {@link Builder#sharedFindings}.
   */
  public Optional<VerdictCache> sharedFindings() {
    return Optional.ofNullable(values.sharedFindings);
  }

  /** How long a domain's catch-all test holds; empty when catch-all detection is off. */
  public Optional<Duration> catchAllTtl() {
    return Optional.ofNullable(values.catchAllTtl);
  }

  public VerificationListener listener() {
    return values.listener;
  }

  /** Whether and how STARTTLS is used to the backend; default {@link BackendTls#NONE}. */
  public BackendTls tls() {
    return values.tls;
  }

  /**
   * The trust for {@link BackendTls#VERIFY}: the context given with {@link Builder#trust}, or made
   * from {@link Builder#trustPem}; empty for the JDK's default trust store (or when not verifying).
   */
  public Optional<SSLContext> trust() {
    return Optional.ofNullable(trust);
  }

  /** The user name for {@code AUTH}; empty when the verifier does not authenticate. */
  public Optional<String> authUser() {
    return Optional.ofNullable(values.authUser);
  }

  /**
   * The password for {@code AUTH}; empty when the verifier does not authenticate. Never logged and
   * never part of {@link #toString()}.
   */
  public Optional<String> authPassword() {
    return Optional.ofNullable(values.authPassword);
  }

  /** Whether {@code AUTH} may be sent over a connection that is not encrypted (default false). */
  public boolean authWithoutTls() {
    return values.authWithoutTls;
  }

  /** SMTP (the default) or LMTP. */
  public BackendProtocol protocol() {
    return values.protocol;
  }

  @Override
  public String toString() {
    return "VerifierConfig{backend="
        + (values.backends.isEmpty()
            ? "none"
            : values.backends.stream()
                .map(b -> b.getHostString() + ":" + b.getPort())
                .collect(Collectors.joining(",")))
        + ", helo="
        + (values.heloName == null ? "(this host)" : values.heloName)
        + ", probeSender=<"
        + values.probeSender
        + ">"
        + (values.knownGood.isEmpty() ? "" : ", knownGood=" + values.knownGood)
        + (values.stateDirectory == null ? "" : ", stateDirectory=" + values.stateDirectory)
        + ", probeMethod="
        + values.probeMethod
        + ", deadline="
        + values.deadline
        + ", maxSessions="
        + values.maxSessions
        + ", idleTimeout="
        + values.idleTimeout
        + ", maxSessionAge="
        + values.maxSessionAge
        + (values.positiveTtl == null
            ? ", cache=off"
            : ", cache="
                + (values.sharedCache == null ? "local" : "shared")
                + " +"
                + values.positiveTtl
                + "/-"
                + values.negativeTtl)
        + (values.sharedFindings == null ? "" : ", findings=shared")
        + (values.catchAllTtl == null ? "" : ", catchAllTtl=" + values.catchAllTtl)
        + (values.protocol == BackendProtocol.SMTP ? "" : ", protocol=" + values.protocol)
        + (values.tls == BackendTls.NONE ? "" : ", tls=" + values.tls)
        + (values.trustPem != null
            ? ", trust=" + values.trustPem
            : trust != null ? ", trust=SSLContext" : "")
        + (values.authUser == null
            ? ""
            : ", auth=" + values.authUser + (values.authWithoutTls ? " (allowed without TLS)" : ""))
        + "}";
  }

  /** Collects configuration values; {@link #build()} validates them all. Not thread-safe. */
  public static final class Builder implements Cloneable {
    private List<InetSocketAddress> backends = List.of();
    private Duration backendCoolDown = Duration.ofSeconds(30);
    private String heloName;
    private String probeSender = "";
    private List<String> knownGood = List.of();
    private Path stateDirectory;
    private Duration idleTimeout = Duration.ofSeconds(300);
    private Duration maxSessionAge = Duration.ofSeconds(1800);
    private Duration deadline = Duration.ofMillis(3000);
    private Duration connectTimeout = Duration.ofMillis(2000);
    private int maxSessions = 8;
    private ProbeMethod probeMethod = ProbeMethod.VRFY;
    private boolean transactionPerVerification;
    private int maxRejectionsPerSession = 8;
    private int maxRecipientsPerTransaction = 100;
    private int maxVrfyPerSession = 90;
    private Clock clock = Clock.systemUTC();
    private Duration positiveTtl;
    private Duration negativeTtl;
    private long cacheMaxEntries = 100_000;
    private VerdictCache sharedCache;
    private VerdictCache sharedFindings;
    private Duration catchAllTtl;
    private VerificationListener listener = VerificationListener.NONE;
    private BackendTls tls = BackendTls.NONE;
    private SSLContext trust;
    private Path trustPem;
    private String authUser;
    private String authPassword;
    private boolean authWithoutTls;
    private BackendProtocol protocol = BackendProtocol.SMTP;

    private Builder() {}

    /** A shallow copy: every field holds an immutable value. */
    Builder copy() {
      try {
        return (Builder) super.clone();
      } catch (CloneNotSupportedException e) {
        throw new AssertionError(e);
      }
    }

    /**
     * Whether sessions to the backend use STARTTLS; default {@link BackendTls#NONE}. With {@link
     * BackendTls#REQUIRED} or {@link BackendTls#VERIFY} a backend is never probed in the clear.
     */
    public Builder tls(BackendTls tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /**
     * The trust for {@link BackendTls#VERIFY}: certificates are checked against this context's
     * trust managers (replacing any {@link #trustPem} given before). Without one, VERIFY uses the
     * JDK's default trust store.
     */
    public Builder trust(SSLContext trust) {
      this.trust = Objects.requireNonNull(trust, "trust");
      this.trustPem = null;
      return this;
    }

    /**
     * The trust for {@link BackendTls#VERIFY} from a PEM file of one or more CA certificates, read
     * by {@link #build()} (replacing any {@link #trust(SSLContext)} given before).
     */
    public Builder trustPem(Path caFile) {
      this.trustPem = Objects.requireNonNull(caFile, "caFile");
      this.trust = null;
      return this;
    }

    /**
     * Authenticate to the backend with {@code AUTH PLAIN} (or {@code LOGIN} where PLAIN is not
     * offered) before the first {@code MAIL}. Needs {@link BackendTls#REQUIRED} or {@link
     * BackendTls#VERIFY}, unless {@link #authWithoutTls(boolean)}: the password would otherwise
     * cross the network readable. The password is never logged nor shown by {@code toString()}.
     */
    public Builder auth(String user, String password) {
      this.authUser = Objects.requireNonNull(user, "user");
      this.authPassword = Objects.requireNonNull(password, "password");
      return this;
    }

    /** Sends no {@code AUTH} (the default). */
    public Builder noAuth() {
      this.authUser = null;
      this.authPassword = null;
      return this;
    }

    /**
     * Allows {@link #auth} over a connection that may not be encrypted (a backend on the same host,
     * say); default false.
     */
    public Builder authWithoutTls(boolean authWithoutTls) {
      this.authWithoutTls = authWithoutTls;
      return this;
    }

    /** SMTP (the default) or LMTP ({@code LHLO} instead of {@code EHLO}). */
    public Builder protocol(BackendProtocol protocol) {
      this.protocol = Objects.requireNonNull(protocol, "protocol");
      return this;
    }

    /**
     * Remember the backend's definite answers in the verifier's own memory: accepted recipients for
     * {@code positiveTtl}, rejected ones for {@code negativeTtl}, at most {@code maxEntries}.
     * Temporary and unverified answers are never cached. A cached accepted recipient is checked
     * again in the background once 80% of its time is gone, so hot addresses never wait.
     */
    public Builder cache(Duration positiveTtl, Duration negativeTtl, long maxEntries) {
      this.positiveTtl = positiveTtl;
      this.negativeTtl = negativeTtl;
      this.cacheMaxEntries = maxEntries;
      this.sharedCache = null;
      return this;
    }

    /** As {@link #cache(Duration, Duration, long)}, but in a cache shared with other verifiers. */
    public Builder sharedCache(VerdictCache cache, Duration positiveTtl, Duration negativeTtl) {
      this.sharedCache = Objects.requireNonNull(cache, "cache");
      this.positiveTtl = positiveTtl;
      this.negativeTtl = negativeTtl;
      return this;
    }

    /**
     * Shares what the verifier learns about domains with other verifiers, without caching verdicts:
     * the {@code known-good:DOMAIN}, {@code catch-all:DOMAIN}, {@code vrfy-trust:DOMAIN}, {@code
     * backend-down:ADDRESS:PORT} and {@code session-limits:HOST:PORT,...} keys of {@link
     * VerdictCache} are written to and read from {@code store}; no address key is ever stored or
     * looked up there, so every verification still asks the backend (or the verifier's own cache,
     * if {@link #cache} is set). For a verifier without a {@link #sharedCache}, which holds those
     * keys itself: {@link #build()} refuses both. The store is called as a shared cache is (off the
     * caller's thread, a lookup waited for at most a tenth of the deadline, a miss if slower or
     * failing). Default none.
     */
    public Builder sharedFindings(VerdictCache store) {
      this.sharedFindings = Objects.requireNonNull(store, "store");
      return this;
    }

    /** No store for findings only (the default). */
    public Builder noSharedFindings() {
      this.sharedFindings = null;
      return this;
    }

    /** Turns caching off (the default). */
    public Builder noCache() {
      this.positiveTtl = null;
      this.negativeTtl = null;
      this.sharedCache = null;
      return this;
    }

    /**
     * Test each domain, once per {@code ttl}, with a random local part: where the backend accepts
     * it, its {@code 250} means nothing, and accepted recipients there are answered {@link
     * Verdict.Reason#CATCH_ALL} instead. Off by default (as Exim's callout {@code random}).
     */
    public Builder catchAllDetection(Duration ttl) {
      this.catchAllTtl = ttl;
      return this;
    }

    /** Hears every verdict (metrics, audit); default none. */
    public Builder listener(VerificationListener listener) {
      this.listener = listener;
      return this;
    }

    /** The backend SMTP server on port 25. */
    public Builder backend(String host) {
      return backend(host, 25);
    }

    /**
     * The backend SMTP server (replacing any configured before). Without one the verifier answers
     * {@link Verdict.Reason#NOT_CONFIGURED} for every address. The name is resolved for each new
     * connection, and every address it has is tried.
     */
    public Builder backend(String host, int port) {
      Objects.requireNonNull(host, "host");
      this.backends = List.of(InetSocketAddress.createUnresolved(host, checkPort(port)));
      return this;
    }

    /**
     * Several backend servers, tried in this order for each new connection (like MX preferences): a
     * host that does not resolve or whose addresses do not answer is passed over for the next. Give
     * unresolved addresses ({@link InetSocketAddress#createUnresolved}) or resolved ones.
     */
    public Builder backends(List<InetSocketAddress> backends) {
      List<InetSocketAddress> copy = new ArrayList<>();
      for (InetSocketAddress backend : List.copyOf(backends)) {
        copy.add(InetSocketAddress.createUnresolved(backend.getHostString(), backend.getPort()));
      }
      this.backends = List.copyOf(copy);
      return this;
    }

    /**
     * How long a backend address that did not answer (connect or greeting failed or timed out) is
     * skipped before it is tried again; meanwhile the next host is used, or, if none answers,
     * verifications answer {@link Verdict.Reason#BACKEND_UNAVAILABLE} at once. With {@link
     * BackendTls#OPPORTUNISTIC}, also how long an address whose TLS handshake failed is spoken to
     * in the clear without trying {@code STARTTLS}. Default 30 s.
     */
    public Builder backendCoolDown(Duration backendCoolDown) {
      this.backendCoolDown = backendCoolDown;
      return this;
    }

    private static int checkPort(int port) {
      require(port >= 1 && port <= 65535, "backend port must be within 1..65535, was " + port);
      return port;
    }

    /**
     * Name sent with {@code EHLO}/{@code HELO}; helps find the probes in the backend's log. By
     * default this host's fully qualified name, else the address literal of the connection's local
     * end.
     */
    public Builder heloName(String heloName) {
      this.heloName = Objects.requireNonNull(heloName, "heloName");
      return this;
    }

    /**
     * Address sent in {@code MAIL FROM}; an empty string (the default) sends the null reverse-path
     * {@code <>}, as Exim's own callouts do: it passes sender verification. The original's {@code
     * rcptproxy@localhost} does not, on backends that verify senders.
     */
    public Builder probeSender(String probeSender) {
      this.probeSender = probeSender;
      return this;
    }

    /**
     * Real mailboxes of the backend, one or more per domain (default none): the control question
     * asks one of them after a refusal that the transaction has not settled, until the backend
     * accepted an address of its own (the addresses it accepts are learnt, and kept in the verdict
     * cache). Without any, such a refusal is {@link Verdict.Reason#REFUSAL_UNCONFIRMED}. Never
     * {@code postmaster}: sites exempt it from the checks the control must tell apart.
     */
    public Builder knownGood(List<String> addresses) {
      this.knownGood = List.copyOf(addresses);
      return this;
    }

    public Builder knownGood(String... addresses) {
      return knownGood(List.of(addresses));
    }

    /**
     * An existing directory where the verifier keeps the known-good addresses it learns (default
     * none), so that a restarted verifier without a shared cache has them before the backend
     * accepts anything. Only ever asked as controls; a file there that cannot be read is a warning
     * and a start without it.
     */
    public Builder stateDirectory(Path directory) {
      this.stateDirectory = Objects.requireNonNull(directory, "directory");
      return this;
    }

    /** A pooled session unused for this long is closed. */
    public Builder idleTimeout(Duration idleTimeout) {
      this.idleTimeout = idleTimeout;
      return this;
    }

    /** A pooled session older than this is closed and replaced, however busy. */
    public Builder maxSessionAge(Duration maxSessionAge) {
      this.maxSessionAge = maxSessionAge;
      return this;
    }

    /**
     * Longest a verification may take, waiting for a free session included; past it the verdict is
     * {@link Verdict.Reason#TIMEOUT} (or {@link Verdict.Reason#BUSY}).
     */
    public Builder deadline(Duration deadline) {
      this.deadline = deadline;
      return this;
    }

    /** Longest a TCP connect may take (never longer than what is left of the deadline). */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = connectTimeout;
      return this;
    }

    /** Most sessions open to the backend at once. */
    public Builder maxSessions(int maxSessions) {
      this.maxSessions = maxSessions;
      return this;
    }

    /**
     * How recipients are asked; default {@link ProbeMethod#VRFY} (where proven honest, else RCPT).
     */
    public Builder probeMethod(ProbeMethod probeMethod) {
      this.probeMethod = probeMethod;
      return this;
    }

    /**
     * Send {@code RSET} and a new {@code MAIL FROM} before each {@code RCPT}, as the 2005 original
     * did. Off by default, and best left off: on Postfix each such transaction that had a valid
     * recipient keeps an inflow-control token, and after about 100 of them every new message on the
     * backend, real mail included, waits one second.
     */
    public Builder transactionPerVerification(boolean transactionPerVerification) {
      this.transactionPerVerification = transactionPerVerification;
      return this;
    }

    /**
     * A session is closed and replaced after this many rejected recipients ({@code 5xx}, and {@code
     * 4xx} too), a first guess that the verifier lowers when a backend shows a smaller limit (it
     * hangs up, or refuses a known-good address after that many). Servers count rejected recipients
     * as errors for the whole session (Postfix, temporary refusals included, slows every reply
     * after 10 and hangs up at 20; Exim's ratio rules refuse everything once too few recipients
     * were accepted).
     */
    public Builder maxRejectionsPerSession(int maxRejectionsPerSession) {
      this.maxRejectionsPerSession = maxRejectionsPerSession;
      return this;
    }

    /**
     * A probe transaction is reset ({@code RSET}, then {@code MAIL} again) before it would take
     * more than this many recipients (at most 1000), one place kept for the control question that
     * must follow refusals in the same transaction; a first guess lowered when a backend answers
     * "too many recipients" sooner.
     */
    public Builder maxRecipientsPerTransaction(int maxRecipientsPerTransaction) {
      this.maxRecipientsPerTransaction = maxRecipientsPerTransaction;
      return this;
    }

    /**
     * A session is replaced after this many {@code VRFY} and {@code RSET} commands, a first guess
     * lowered when a backend shows a smaller limit: Postfix counts each as a junk command and
     * treats every one past 100 as an error; Exim hangs up on the 11th {@code VRFY} by default
     * ({@code smtp_accept_max_nonmail}).
     */
    public Builder maxVrfyPerSession(int maxVrfyPerSession) {
      this.maxVrfyPerSession = maxVrfyPerSession;
      return this;
    }

    /** Clock deciding idle timeout and session age; replace it in tests to move time. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /**
     * @throws IllegalArgumentException naming the first value that is out of range
     */
    public VerifierConfig build() {
      for (InetSocketAddress backend : backends) {
        String host = backend.getHostString();
        require(!host.isBlank(), "backend host must not be blank (leave it unset instead)");
        require(
            host.chars().allMatch(c -> c > ' ' && c < 0x7f),
            "backend host must be printable ASCII without spaces: " + host);
        checkPort(backend.getPort());
      }
      requirePositive(backendCoolDown, "backend cool-down");
      require(
          heloName == null
              || heloName.matches(
                  "[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]+]")
              || heloName.matches("\\[IPv6:[0-9A-Fa-f:.]+]"),
          "HELO name must be a domain name or an address literal, was '" + heloName + "'");
      Objects.requireNonNull(probeSender, "probeSender");
      if (!probeSender.isEmpty()) {
        try {
          Mailbox.parse(probeSender);
        } catch (InvalidAddressException e) {
          throw new IllegalArgumentException(
              "probe sender is not a valid address: " + e.getMessage());
        }
        require(
            probeSender.chars().allMatch(c -> c < 0x80),
            "probe sender must be ASCII: " + probeSender);
      }
      for (String address : knownGood) {
        try {
          Mailbox mailbox = Mailbox.parse(address);
          require(
              !mailbox.needsSmtputf8(),
              "known-good address must have an ASCII local part: " + address);
          require(
              !mailbox.toString().regionMatches(true, 0, "postmaster@", 0, 11),
              "known-good address cannot be postmaster (sites exempt it from their checks): "
                  + address);
        } catch (InvalidAddressException e) {
          throw new IllegalArgumentException(
              "known-good address " + address + " is not valid: " + e.getMessage());
        }
      }
      require(
          stateDirectory == null || Files.isDirectory(stateDirectory),
          "state directory must be an existing directory: " + stateDirectory);
      requirePositive(idleTimeout, "idle timeout");
      requirePositive(maxSessionAge, "max session age");
      requirePositive(deadline, "deadline");
      requirePositive(connectTimeout, "connect timeout");
      require(maxSessions >= 1, "max sessions cannot be less than 1, was " + maxSessions);
      Objects.requireNonNull(probeMethod, "probeMethod");
      require(
          maxRejectionsPerSession >= 1,
          "max rejections per session cannot be less than 1, was " + maxRejectionsPerSession);
      require(
          maxRecipientsPerTransaction >= 1
              && maxRecipientsPerTransaction <= MAX_RECIPIENTS_PER_TRANSACTION_LIMIT,
          "max recipients per transaction must be within 1..1000, was "
              + maxRecipientsPerTransaction);
      require(
          maxVrfyPerSession >= 1,
          "max VRFY per session cannot be less than 1, was " + maxVrfyPerSession);
      Objects.requireNonNull(clock, "clock");
      if (positiveTtl != null || negativeTtl != null) {
        requirePositive(positiveTtl, "positive TTL");
        requirePositive(negativeTtl, "negative TTL");
        require(
            cacheMaxEntries >= 1,
            "cache max entries cannot be less than 1, was " + cacheMaxEntries);
      }
      if (catchAllTtl != null) {
        requirePositive(catchAllTtl, "catch-all TTL");
      }
      require(
          sharedFindings == null || sharedCache == null,
          "shared findings are for a verifier without a shared cache (which holds them), but both"
              + " were given");
      Objects.requireNonNull(listener, "listener");
      Objects.requireNonNull(protocol, "protocol");
      return new VerifierConfig(this, checkTlsAndAuth());
    }

    /** Checks the TLS and AUTH settings together; returns the trust for VERIFY, if given. */
    private SSLContext checkTlsAndAuth() {
      Objects.requireNonNull(tls, "tls");
      boolean encrypted = tls == BackendTls.REQUIRED || tls == BackendTls.VERIFY;
      require(
          tls == BackendTls.VERIFY || (trust == null && trustPem == null),
          "tls trust (a CA) is used only with tls VERIFY, but tls is "
              + tls
              + ": set tls(VERIFY), or drop the trust");
      if (authUser != null) {
        require(!authUser.isEmpty(), "auth user must not be empty");
        require(!authPassword.isEmpty(), "auth password must not be empty");
        require(
            (authUser + authPassword).chars().noneMatch(c -> c == 0 || c == '\r' || c == '\n'),
            "auth user and password must not contain NUL, CR or LF");
        require(
            encrypted || authWithoutTls,
            "auth needs tls REQUIRED or VERIFY (the password would cross the network readable),"
                + " but tls is "
                + tls
                + "; or allow it with authWithoutTls(true)");
      } else {
        require(!authWithoutTls, "authWithoutTls is set but no auth(user, password) is");
      }
      if (trustPem == null) {
        return trust;
      }
      try {
        return trustFromPem(trustPem);
      } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "tls trust PEM file " + trustPem + " cannot be used: " + e.getMessage(), e);
      }
    }

    private static SSLContext trustFromPem(Path file) throws IOException, GeneralSecurityException {
      Certificate[] certificates;
      try (InputStream in = Files.newInputStream(file)) {
        certificates =
            CertificateFactory.getInstance("X.509")
                .generateCertificates(in)
                .toArray(Certificate[]::new);
      }
      if (certificates.length == 0) {
        throw new IllegalArgumentException("it holds no certificate");
      }
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      for (int i = 0; i < certificates.length; i++) {
        store.setCertificateEntry("ca" + i, certificates[i]);
      }
      TrustManagerFactory trustManagers =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trustManagers.init(store);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trustManagers.getTrustManagers(), null);
      return context;
    }

    private static void requirePositive(Duration value, String name) {
      Objects.requireNonNull(value, name);
      require(!value.isNegative() && !value.isZero(), name + " must be positive, was " + value);
    }

    private static void require(boolean condition, String message) {
      if (!condition) {
        throw new IllegalArgumentException(message);
      }
    }
  }
}
