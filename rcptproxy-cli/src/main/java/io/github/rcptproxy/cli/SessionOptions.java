package io.github.rcptproxy.cli;

import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.VerifierConfig;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The options of a verifier that runs for long (gateway, policy): how it asks, how it keeps its
 * backend sessions, what it remembers. Declared once here for both.
 */
final class SessionOptions {
  @Option(
      names = "--probe-method",
      paramLabel = "METHOD",
      defaultValue = "vrfy",
      converter = Converters.Method.class,
      completionCandidates = Converters.Method.class,
      description =
          "${COMPLETION-CANDIDATES}; vrfy: VRFY where the backend proved honest, else RCPT")
  ProbeMethod probeMethod;

  @Option(
      names = "--connect-timeout-ms",
      paramLabel = "N",
      defaultValue = "2000",
      converter = Converters.Positive.class,
      description = "deadline of a TCP connect to the backend")
  int connectTimeoutMs;

  @Option(
      names = "--idle-timeout-s",
      paramLabel = "N",
      defaultValue = "300",
      converter = Converters.Positive.class,
      description = "close a cached backend session idle this long")
  int idleTimeoutS;

  @Option(
      names = "--max-age-s",
      paramLabel = "N",
      defaultValue = "1800",
      converter = Converters.Positive.class,
      description = "replace a cached backend session this old")
  int maxAgeS;

  @Option(
      names = "--max-sessions",
      paramLabel = "N",
      defaultValue = "8",
      converter = Converters.Positive.class,
      description = "backend sessions at most")
  int maxSessions;

  @Option(
      names = "--max-rejections-per-session",
      paramLabel = "N",
      defaultValue = "8",
      converter = Converters.Positive.class,
      description = "replace a backend session after this many rejections (rcptproxy probe tells)")
  int maxRejectionsPerSession;

  @Option(
      names = "--max-vrfy-per-session",
      paramLabel = "N",
      defaultValue = "90",
      converter = Converters.Positive.class,
      description = "replace a backend session after this many VRFYs (rcptproxy probe tells)")
  int maxVrfyPerSession;

  @Option(
      names = "--cache-positive-ttl-s",
      paramLabel = "N",
      defaultValue = "0",
      converter = Converters.Whole.class,
      description = "remember accepted recipients this long; 0: no cache")
  int cachePositiveTtlS;

  // No defaultValue: given without a cache, they are refused rather than ignored.
  @Option(
      names = "--cache-negative-ttl-s",
      paramLabel = "N",
      converter = Converters.Positive.class,
      description = "remember rejected recipients this long (default 300 with a cache)")
  Integer cacheNegativeTtlS;

  @Option(
      names = "--cache-max-entries",
      paramLabel = "N",
      converter = Converters.Positive.class,
      description = "verdicts remembered at most (default 100000 with a cache)")
  Integer cacheMaxEntries;

  @Option(
      names = "--catch-all-ttl-s",
      paramLabel = "N",
      defaultValue = "0",
      converter = Converters.Whole.class,
      description = "detect domains that accept any address, once per N seconds; 0: off")
  int catchAllTtlS;

  @Option(
      names = "--state-dir",
      paramLabel = "DIR",
      description =
          "an existing directory, writable by this process, where the known-good addresses the"
              + " backend accepted are kept across restarts (file known-good, owner-only); default:"
              + " not kept")
  Path stateDir;

  /**
   * Sets these options on {@code builder}.
   *
   * @throws IllegalArgumentException naming the option, for a combination that cannot be used
   */
  void applyTo(VerifierConfig.Builder builder) {
    builder
        .probeMethod(probeMethod)
        .connectTimeout(Duration.ofMillis(connectTimeoutMs))
        .idleTimeout(Duration.ofSeconds(idleTimeoutS))
        .maxSessionAge(Duration.ofSeconds(maxAgeS))
        .maxSessions(maxSessions)
        .maxRejectionsPerSession(maxRejectionsPerSession)
        .maxVrfyPerSession(maxVrfyPerSession);
    if (cachePositiveTtlS > 0) {
      builder.cache(
          Duration.ofSeconds(cachePositiveTtlS),
          Duration.ofSeconds(cacheNegativeTtlS == null ? 300 : cacheNegativeTtlS),
          cacheMaxEntries == null ? 100_000 : cacheMaxEntries);
    } else if (cacheNegativeTtlS != null || cacheMaxEntries != null) {
      throw new IllegalArgumentException(
          "--cache-negative-ttl-s and --cache-max-entries need --cache-positive-ttl-s");
    }
    if (catchAllTtlS > 0) {
      builder.catchAllDetection(Duration.ofSeconds(catchAllTtlS));
    }
    if (stateDir != null) {
      builder.stateDirectory(stateDir);
    }
  }
}
