package io.github.rcptproxy;

import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Immutable configuration of a {@link RecipientVerifier}. Built with {@link #builder()}; every
 * value is checked by {@link Builder#build()}, which refuses (never corrects) a bad one.
 *
 * <p>Defaults follow the 2005 original where it had the option: port 25, HELO name {@code world},
 * probe sender {@code rcptproxy@localhost}, idle timeout 300 s, maximum session age 1800 s,
 * deadline 3000 ms.
 */
public final class VerifierConfig {

  /** Postfix's {@code smtpd_recipient_limit} is 1000; stay well below any server's limit. */
  static final int MAX_RECIPIENTS_PER_TRANSACTION_LIMIT = 1000;

  private final String backendHost;
  private final int backendPort;
  private final String heloName;
  private final String probeSender;
  private final Duration idleTimeout;
  private final Duration maxSessionAge;
  private final Duration deadline;
  private final Duration connectTimeout;
  private final int maxSessions;
  private final ProbeMethod probeMethod;
  private final boolean transactionPerVerification;
  private final int maxRejectionsPerSession;
  private final int maxRecipientsPerTransaction;
  private final int maxVrfyPerSession;
  private final Clock clock;
  private final Duration positiveTtl;
  private final Duration negativeTtl;
  private final long cacheMaxEntries;
  private final VerdictCache sharedCache;
  private final Duration catchAllTtl;
  private final VerificationListener listener;

  private VerifierConfig(Builder b) {
    this.backendHost = b.backendHost;
    this.backendPort = b.backendPort;
    this.heloName = b.heloName;
    this.probeSender = b.probeSender;
    this.idleTimeout = b.idleTimeout;
    this.maxSessionAge = b.maxSessionAge;
    this.deadline = b.deadline;
    this.connectTimeout = b.connectTimeout;
    this.maxSessions = b.maxSessions;
    this.probeMethod = b.probeMethod;
    this.transactionPerVerification = b.transactionPerVerification;
    this.maxRejectionsPerSession = b.maxRejectionsPerSession;
    this.maxRecipientsPerTransaction = b.maxRecipientsPerTransaction;
    this.maxVrfyPerSession = b.maxVrfyPerSession;
    this.clock = b.clock;
    this.positiveTtl = b.positiveTtl;
    this.negativeTtl = b.negativeTtl;
    this.cacheMaxEntries = b.cacheMaxEntries;
    this.sharedCache = b.sharedCache;
    this.catchAllTtl = b.catchAllTtl;
    this.listener = b.listener;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this configuration's values, to derive a changed copy. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.backendHost = backendHost;
    b.backendPort = backendPort;
    b.heloName = heloName;
    b.probeSender = probeSender;
    b.idleTimeout = idleTimeout;
    b.maxSessionAge = maxSessionAge;
    b.deadline = deadline;
    b.connectTimeout = connectTimeout;
    b.maxSessions = maxSessions;
    b.probeMethod = probeMethod;
    b.transactionPerVerification = transactionPerVerification;
    b.maxRejectionsPerSession = maxRejectionsPerSession;
    b.maxRecipientsPerTransaction = maxRecipientsPerTransaction;
    b.maxVrfyPerSession = maxVrfyPerSession;
    b.clock = clock;
    b.positiveTtl = positiveTtl;
    b.negativeTtl = negativeTtl;
    b.cacheMaxEntries = cacheMaxEntries;
    b.sharedCache = sharedCache;
    b.catchAllTtl = catchAllTtl;
    b.listener = listener;
    return b;
  }

  /** The backend's host name or IP address; empty when none is configured. */
  public Optional<String> backendHost() {
    return Optional.ofNullable(backendHost);
  }

  public int backendPort() {
    return backendPort;
  }

  public String heloName() {
    return heloName;
  }

  /** The probe sender's address; empty for the null reverse-path {@code <>}. */
  public String probeSender() {
    return probeSender;
  }

  public Duration idleTimeout() {
    return idleTimeout;
  }

  public Duration maxSessionAge() {
    return maxSessionAge;
  }

  public Duration deadline() {
    return deadline;
  }

  public Duration connectTimeout() {
    return connectTimeout;
  }

  public int maxSessions() {
    return maxSessions;
  }

  public ProbeMethod probeMethod() {
    return probeMethod;
  }

  public boolean transactionPerVerification() {
    return transactionPerVerification;
  }

  public int maxRejectionsPerSession() {
    return maxRejectionsPerSession;
  }

  public int maxRecipientsPerTransaction() {
    return maxRecipientsPerTransaction;
  }

  public int maxVrfyPerSession() {
    return maxVrfyPerSession;
  }

  public Clock clock() {
    return clock;
  }

  /** Whether verdicts are cached (off by default). */
  public boolean cacheEnabled() {
    return positiveTtl != null;
  }

  /** How long an accepted recipient is remembered; empty when caching is off. */
  public Optional<Duration> positiveTtl() {
    return Optional.ofNullable(positiveTtl);
  }

  /** How long a rejected recipient is remembered; empty when caching is off. */
  public Optional<Duration> negativeTtl() {
    return Optional.ofNullable(negativeTtl);
  }

  public long cacheMaxEntries() {
    return cacheMaxEntries;
  }

  /** The cache shared with other verifiers, if one was given instead of the verifier's own. */
  public Optional<VerdictCache> sharedCache() {
    return Optional.ofNullable(sharedCache);
  }

  /** How long a domain's catch-all test holds; empty when catch-all detection is off. */
  public Optional<Duration> catchAllTtl() {
    return Optional.ofNullable(catchAllTtl);
  }

  public VerificationListener listener() {
    return listener;
  }

  @Override
  public String toString() {
    return "VerifierConfig{backend="
        + (backendHost == null ? "none" : backendHost + ":" + backendPort)
        + ", helo="
        + heloName
        + ", probeSender=<"
        + probeSender
        + ">, probeMethod="
        + probeMethod
        + ", deadline="
        + deadline
        + ", maxSessions="
        + maxSessions
        + ", idleTimeout="
        + idleTimeout
        + ", maxSessionAge="
        + maxSessionAge
        + (positiveTtl == null
            ? ", cache=off"
            : ", cache="
                + (sharedCache == null ? "local" : "shared")
                + " +"
                + positiveTtl
                + "/-"
                + negativeTtl)
        + (catchAllTtl == null ? "" : ", catchAllTtl=" + catchAllTtl)
        + "}";
  }

  /** Collects configuration values; {@link #build()} validates them all. Not thread-safe. */
  public static final class Builder {
    private String backendHost;
    private int backendPort = 25;
    private String heloName = "world";
    private String probeSender = "rcptproxy@localhost";
    private Duration idleTimeout = Duration.ofSeconds(300);
    private Duration maxSessionAge = Duration.ofSeconds(1800);
    private Duration deadline = Duration.ofMillis(3000);
    private Duration connectTimeout = Duration.ofMillis(2000);
    private int maxSessions = 8;
    private ProbeMethod probeMethod = ProbeMethod.RCPT;
    private boolean transactionPerVerification;
    private int maxRejectionsPerSession = 8;
    private int maxRecipientsPerTransaction = 100;
    private int maxVrfyPerSession = 90;
    private Clock clock = Clock.systemUTC();
    private Duration positiveTtl;
    private Duration negativeTtl;
    private long cacheMaxEntries = 100_000;
    private VerdictCache sharedCache;
    private Duration catchAllTtl;
    private VerificationListener listener = VerificationListener.NONE;

    private Builder() {}

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
     * The backend SMTP server. Without one (or with a host name that does not resolve) the verifier
     * answers {@link Verdict.Reason#NOT_CONFIGURED} for every address.
     */
    public Builder backend(String host, int port) {
      this.backendHost = host;
      this.backendPort = port;
      return this;
    }

    /** Name sent with {@code EHLO}/{@code HELO}; helps find the probes in the backend's log. */
    public Builder heloName(String heloName) {
      this.heloName = heloName;
      return this;
    }

    /** Address sent in {@code MAIL FROM}; an empty string sends the null reverse-path. */
    public Builder probeSender(String probeSender) {
      this.probeSender = probeSender;
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
     * A session is closed and replaced after this many rejected recipients. Servers count rejected
     * recipients as errors for the whole session (Postfix slows every reply after 10 and hangs up
     * at 20), so keep this below the backend's soft error limit.
     */
    public Builder maxRejectionsPerSession(int maxRejectionsPerSession) {
      this.maxRejectionsPerSession = maxRejectionsPerSession;
      return this;
    }

    /** A session is replaced after this many recipients in its probe transaction (at most 1000). */
    public Builder maxRecipientsPerTransaction(int maxRecipientsPerTransaction) {
      this.maxRecipientsPerTransaction = maxRecipientsPerTransaction;
      return this;
    }

    /**
     * A session is replaced after this many {@code VRFY} commands; Postfix counts each as a junk
     * command and treats every one past 100 as an error.
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
      if (backendHost != null) {
        require(!backendHost.isBlank(), "backend host must not be blank (leave it unset instead)");
        require(
            backendHost.chars().allMatch(c -> c > ' ' && c < 0x7f),
            "backend host must be printable ASCII without spaces: " + backendHost);
      }
      require(
          backendPort >= 1 && backendPort <= 65535,
          "backend port must be within 1..65535, was " + backendPort);
      Objects.requireNonNull(heloName, "heloName");
      require(
          heloName.matches("[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]+]")
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
      Objects.requireNonNull(listener, "listener");
      return new VerifierConfig(this);
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
