package io.github.rcptproxy.gateway;

import io.github.rcptproxy.AddressCheck;
import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.policy.FailureMode;
import io.github.rcptproxy.subethasmtp.RecipientPolicy;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Everything the gateway is told, from the command line and from a {@code --config} properties
 * file, which use the same names ({@code --timeout-ms 500} and {@code timeout-ms=500}); the command
 * line wins. Immutable; {@link #parse} refuses anything doubtful with a one-line message.
 */
public record GatewaySettings(
    HostPort listen,
    String hostName,
    Optional<HostPort> metricsListen,
    Duration summaryInterval,
    List<String> domains,
    VerifierConfig verifier,
    RecipientPolicy policy,
    Limits limits,
    String postmaster,
    Optional<Tls> tls,
    Optional<Path> configFile,
    boolean demo,
    List<String[]> commandLine) {

  /**
   * What the SMTP front allows; fixed at start (a reload that changes them is logged, not applied).
   */
  public record Limits(
      int maxMessageSize,
      int maxRecipients,
      int maxConnections,
      int maxConnectionsPerClient,
      int maxRejectedPerClient,
      Duration rejectedCoolDown,
      Duration commandTimeout,
      Duration relayTimeout) {}

  /** STARTTLS for clients: PEM files, read again when they change. */
  public record Tls(Path certificate, Path key, boolean required) {}

  public static final String OPTIONS =
      """
      Options (on the command line as --NAME VALUE, in a --config file as NAME=VALUE):
        listen HOST:PORT          where the gateway listens (default 127.0.0.1:2525)
        hostname NAME             the gateway's name in its greeting (default rcptproxy-gateway)
        backend HOST:PORT         the internal SMTP server that verifies and receives the mail
        domain NAME               a domain the gateway accepts mail for; repeat, or separate with
                                  commas; *.NAME takes every subdomain (required)
        helo NAME                 name sent with EHLO to the backend (default world)
        backend-tls none|opportunistic|required|verify
                                  STARTTLS to the backend, for verification and relay: required
                                  never talks in the clear (opportunistic does where
                                  STARTTLS fails); verify also checks the certificate
                                  and the backend host name (default none)
        backend-ca PEM            CA certificates that verify trusts (default: the JDK's)
        backend-auth-user NAME    AUTH PLAIN/LOGIN to the backend as NAME (needs backend-tls
                                  required or verify)
        backend-auth-password-file FILE  the password for backend-auth-user, the file's first line
        backend-protocol smtp|lmtp  lmtp: LHLO, and one recipient per message, so that the
                                  backend's answer for each recipient reaches the client (default smtp)
        probe-sender ADDRESS      MAIL FROM of the verification probe (default <>, the null sender)
        probe-method rcpt|vrfy    vrfy: VRFY where the backend proved honest, else RCPT (default)
        timeout-ms N              deadline per verification (default 3000)
        connect-timeout-ms N      deadline of a TCP connect to the backend (default 2000)
        idle-timeout-s N          close a cached backend session idle this long (default 300)
        max-age-s N               replace a cached backend session this old (default 1800)
        max-sessions N            backend sessions at most (default 8)
        bypass CIDR               client addresses that skip verification; repeat, or separate
                                  with commas (default 127.0.0.1/32,::1/128)
        bypass-backend true|false mail from the backend's own address skips verification (default true)
        reject-code N             reply code of a rejection, 400-599 (default 550)
        reject-message TEXT       rejection text; a trailing @ becomes the address
                                  (default "Unable to relay to @")
        expose-backend-reply      show clients the backend's own rejection text
        disconnect-after N        hang up after N rejections in a session; 0 never (default 1)
        no-disconnect             same as disconnect-after 0
        on-unverified accept|tempfail        backend slow, down or busy (default accept)
        on-backend-tempfail accept|tempfail  backend answered 4xx (default accept)
        tarpit-ms N               delay before each rejection (default 0)
        max-message-size BYTES    largest message accepted (default 10485760)
        max-recipients N          recipients per message at most (default 100)
        max-connections N         client connections at once at most (default 100)
        max-connections-per-client N  connections at once from one client (default 10); a
                                  client is an IPv4 address or an IPv6 /64
        max-rejected-per-client N rejected recipients per client per minute; one more and the
                                  client gets 421 for the cool-down (default 30)
        rejected-cooldown-s N     how long such a client is refused (default 300)
        command-timeout-s N       time allowed for each client command line, in total, waiting
                                  included (default 60)
        relay-timeout-s N         time allowed for receiving one message from the client, in
                                  total, and for each reply of the backend while relaying it
                                  (default 300)
        postmaster ADDRESS        where RCPT TO:<postmaster> goes (default postmaster@ the first
                                  --domain; required if that is a *.pattern)
        tls-cert FILE             PEM certificate chain for STARTTLS (with tls-key); both files
                                  are read again when they change
        tls-key FILE              PEM private key (PKCS#8, unencrypted) for STARTTLS
        require-tls               refuse MAIL until the client has used STARTTLS
        cache-positive-ttl-s N    remember accepted recipients this long (default: no cache)
        cache-negative-ttl-s N    remember rejected recipients this long (default 300 with a cache)
        cache-max-entries N       verdicts remembered at most (default 100000)
        catch-all-ttl-s N         detect domains that accept any address, once per N seconds (default off)
        metrics-listen HOST:PORT  serve /metrics (Prometheus text) and /health there (default off;
                                  keep it on loopback)
        summary-interval-s N      log a one-line summary every N seconds; 0 never (default 60)
      Command line only:
        --config FILE             read options from a properties file, and reload it when it
                                  changes (listen, the limits and TLS need a restart)
        --demo                    start an in-process backend and show the gateway in front of it
        --help                    this text
      """;

  private static final Set<String> FLAGS =
      Set.of("no-disconnect", "expose-backend-reply", "demo", "require-tls");
  private static final Set<String> KNOWN =
      Set.of(
          "listen",
          "hostname",
          "backend",
          "domain",
          "helo",
          "backend-tls",
          "backend-ca",
          "backend-auth-user",
          "backend-auth-password-file",
          "backend-protocol",
          "probe-sender",
          "probe-method",
          "timeout-ms",
          "connect-timeout-ms",
          "idle-timeout-s",
          "max-age-s",
          "max-sessions",
          "bypass",
          "bypass-backend",
          "reject-code",
          "reject-message",
          "expose-backend-reply",
          "disconnect-after",
          "no-disconnect",
          "on-unverified",
          "on-backend-tempfail",
          "tarpit-ms",
          "max-message-size",
          "max-recipients",
          "max-connections",
          "max-connections-per-client",
          "max-rejected-per-client",
          "rejected-cooldown-s",
          "postmaster",
          "tls-cert",
          "tls-key",
          "require-tls",
          "command-timeout-s",
          "relay-timeout-s",
          "cache-positive-ttl-s",
          "cache-negative-ttl-s",
          "cache-max-entries",
          "catch-all-ttl-s",
          "metrics-listen",
          "summary-interval-s");

  /**
   * Adds every gateway option to {@code spec}, for picocli to parse ({@link #parse}) and to list in
   * help and completion scripts ({@code rcptproxy gateway}). The names are {@link #KNOWN}: the same
   * in a {@code --config} file and, as {@code RCPTPROXY_NAME}, in the environment.
   */
  public static CommandSpec addOptions(CommandSpec spec) {
    for (String name : new java.util.TreeSet<>(KNOWN)) {
      OptionSpec.Builder option = OptionSpec.builder("--" + name);
      if (FLAGS.contains(name)) {
        option.arity("0").type(boolean.class);
      } else {
        option.arity("1").type(List.class).auxiliaryTypes(String.class).paramLabel("VALUE");
      }
      spec.addOption(option.build());
    }
    spec.addOption(
        OptionSpec.builder("--config").arity("1").type(String.class).paramLabel("FILE").build());
    spec.addOption(OptionSpec.builder("--demo").arity("0").type(boolean.class).build());
    spec.parser().overwrittenOptionsAllowed(true);
    return spec;
  }

  /**
   * Parses a gateway command line with picocli (reading the {@code --config} file if one is named,
   * and {@code RCPTPROXY_*} variables from the environment: the command line wins over the
   * environment, which wins over the file).
   *
   * @throws UsageException with a one-line message
   */
  public static GatewaySettings parse(String[] args) {
    return parse(args, System.getenv());
  }

  public static GatewaySettings parse(String[] args, Map<String, String> environment) {
    CommandLine.ParseResult parsed;
    try {
      parsed = new CommandLine(addOptions(CommandSpec.create())).parseArgs(args);
    } catch (CommandLine.UnmatchedArgumentException e) {
      String first = e.getUnmatched().isEmpty() ? "?" : e.getUnmatched().get(0);
      throw new UsageException(
          first.startsWith("-")
              ? "unknown option " + first + " (try --help)"
              : "unexpected argument '" + first + "' (try --help)");
    } catch (CommandLine.MissingParameterException e) {
      String option =
          e.getMissing().isEmpty() || !(e.getMissing().get(0) instanceof OptionSpec o)
              ? "an option"
              : o.longestName();
      throw new UsageException(option + " needs a value");
    } catch (CommandLine.ParameterException e) {
      throw new UsageException(e.getMessage());
    }
    List<String[]> pairs = new ArrayList<>();
    for (String name : new java.util.TreeSet<>(KNOWN)) {
      String value =
          environment.get("RCPTPROXY_" + name.toUpperCase(Locale.ROOT).replace('-', '_'));
      if (value != null) {
        pairs.add(new String[] {name, value});
      }
    }
    Path config =
        parsed.hasMatchedOption("--config")
            ? Path.of(parsed.<String>matchedOptionValue("--config", null))
            : Optional.ofNullable(environment.get("RCPTPROXY_CONFIG")).map(Path::of).orElse(null);
    boolean demo = parsed.hasMatchedOption("--demo");
    // matchedOptions() lists a repeated option once per occurrence; its value holds them all
    for (OptionSpec option : new java.util.LinkedHashSet<>(parsed.matchedOptions())) {
      String name = option.longestName().substring(2);
      if (!KNOWN.contains(name)) {
        continue;
      }
      if (FLAGS.contains(name)) {
        pairs.add(new String[] {name, "true"});
      } else {
        for (String value : option.<List<String>>getValue()) {
          pairs.add(new String[] {name, value});
        }
      }
    }
    return build(Optional.ofNullable(config), demo, pairs);
  }

  /** The same command line with the config file read again: a reload. */
  GatewaySettings reload() {
    return build(configFile, demo, commandLine);
  }

  private static GatewaySettings build(
      Optional<Path> config, boolean demo, List<String[]> commandLine) {
    List<String[]> pairs = new ArrayList<>();
    if (config.isPresent()) {
      pairs.addAll(readProperties(config.get()));
    }
    pairs.addAll(commandLine);
    Map<String, List<String>> values = new TreeMap<>();
    for (String[] pair : pairs) {
      values.computeIfAbsent(pair[0], k -> new ArrayList<>()).add(pair[1]);
    }
    Settings s = new Settings(values);
    HostPort listen = HostPort.parse(s.last("listen").orElse("127.0.0.1:2525"), 25);
    List<String> domains = s.list("domain");
    Optional<String> backend = s.last("backend");
    if (!demo) {
      if (backend.isEmpty()) {
        throw new UsageException("--backend HOST:PORT is required (or --demo)");
      }
      if (domains.isEmpty()) {
        throw new UsageException("at least one --domain is required (or --demo)");
      }
    }
    try {
      VerifierConfig.Builder verifier = VerifierConfig.builder();
      backend.map(b -> HostPort.parse(b, 25)).ifPresent(b -> verifier.backend(b.host(), b.port()));
      s.last("helo").ifPresent(verifier::heloName);
      backendTransport(s::last, verifier);
      s.last("probe-sender").ifPresent(verifier::probeSender);
      s.last("probe-method")
          .ifPresent(m -> verifier.probeMethod(s.choice("probe-method", m, ProbeMethod.class)));
      s.number("timeout-ms").ifPresent(n -> verifier.deadline(Duration.ofMillis(n)));
      s.number("connect-timeout-ms").ifPresent(n -> verifier.connectTimeout(Duration.ofMillis(n)));
      s.number("idle-timeout-s").ifPresent(n -> verifier.idleTimeout(Duration.ofSeconds(n)));
      s.number("max-age-s").ifPresent(n -> verifier.maxSessionAge(Duration.ofSeconds(n)));
      s.number("max-sessions").ifPresent(n -> verifier.maxSessions(Math.toIntExact(n)));
      Optional<Long> positiveTtl = s.number("cache-positive-ttl-s");
      if (positiveTtl.isPresent()) {
        verifier.cache(
            Duration.ofSeconds(positiveTtl.get()),
            Duration.ofSeconds(s.number("cache-negative-ttl-s").orElse(300L)),
            s.number("cache-max-entries").orElse(100_000L));
      } else if (values.containsKey("cache-negative-ttl-s")
          || values.containsKey("cache-max-entries")) {
        throw new UsageException(
            "--cache-negative-ttl-s and --cache-max-entries need --cache-positive-ttl-s");
      }
      s.number("catch-all-ttl-s").ifPresent(n -> verifier.catchAllDetection(Duration.ofSeconds(n)));

      RecipientPolicy.Builder policy = RecipientPolicy.builder();
      if (values.containsKey("bypass")) {
        policy.bypass(s.list("bypass"));
      }
      s.bool("bypass-backend").ifPresent(policy::bypassBackend);
      s.number("reject-code").ifPresent(n -> policy.rejectCode(Math.toIntExact(n)));
      s.last("reject-message").ifPresent(policy::rejectMessage);
      s.bool("expose-backend-reply").ifPresent(policy::exposeBackendReply);
      s.whole("disconnect-after")
          .ifPresent(n -> policy.disconnectAfterRejections(Math.toIntExact(n)));
      if (s.bool("no-disconnect").orElse(false)) {
        policy.disconnectAfterRejections(0);
      }
      s.last("on-unverified")
          .ifPresent(m -> policy.onUnverified(s.choice("on-unverified", m, FailureMode.class)));
      s.last("on-backend-tempfail")
          .ifPresent(
              m ->
                  policy.onBackendTemporaryFailure(
                      s.choice("on-backend-tempfail", m, FailureMode.class)));
      s.whole("tarpit-ms").ifPresent(n -> policy.tarpit(Duration.ofMillis(n)));

      Limits limits =
          new Limits(
              Math.toIntExact(s.number("max-message-size").orElse(10L * 1024 * 1024)),
              Math.toIntExact(s.number("max-recipients").orElse(100L)),
              Math.toIntExact(s.number("max-connections").orElse(100L)),
              Math.toIntExact(s.number("max-connections-per-client").orElse(10L)),
              Math.toIntExact(s.number("max-rejected-per-client").orElse(30L)),
              Duration.ofSeconds(s.number("rejected-cooldown-s").orElse(300L)),
              Duration.ofSeconds(s.number("command-timeout-s").orElse(60L)),
              Duration.ofSeconds(s.number("relay-timeout-s").orElse(300L)));
      String postmaster = postmaster(s.last("postmaster"), domains);
      Optional<Tls> tls = tls(s);
      String hostName = s.last("hostname").orElse("rcptproxy-gateway");
      if (!hostName.matches("[A-Za-z0-9.-]{1,253}")) {
        throw new UsageException("--hostname must be a host name, got '" + hostName + "'");
      }
      Optional<HostPort> metricsListen = s.last("metrics-listen").map(m -> HostPort.parse(m, 9465));
      Duration summaryInterval = Duration.ofSeconds(s.whole("summary-interval-s").orElse(60L));
      return new GatewaySettings(
          listen,
          hostName,
          metricsListen,
          summaryInterval,
          List.copyOf(domains),
          verifier.build(),
          policy.build(),
          limits,
          postmaster,
          tls,
          config,
          demo,
          List.copyOf(commandLine));
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw new UsageException(e.getMessage());
    }
  }

  /**
   * The backend transport options, shared with the verify command: {@code backend-tls}, {@code
   * backend-ca}, {@code backend-auth-user}, {@code backend-auth-password-file}, {@code
   * backend-protocol}. The password is read from its file here and never printed.
   */
  public static void backendTransport(
      Function<String, Optional<String>> option, VerifierConfig.Builder verifier) {
    option
        .apply("backend-tls")
        .ifPresent(v -> verifier.tls(Settings.choose("backend-tls", v, BackendTls.class)));
    option.apply("backend-ca").ifPresent(file -> verifier.trustPem(Path.of(file)));
    option
        .apply("backend-protocol")
        .ifPresent(
            v -> verifier.protocol(Settings.choose("backend-protocol", v, BackendProtocol.class)));
    Optional<String> user = option.apply("backend-auth-user");
    Optional<String> passwordFile = option.apply("backend-auth-password-file");
    if (user.isPresent() != passwordFile.isPresent()) {
      throw new UsageException("--backend-auth-user and --backend-auth-password-file go together");
    }
    if (user.isPresent()) {
      String password;
      try {
        password =
            Files.readAllLines(Path.of(passwordFile.get()), StandardCharsets.UTF_8).stream()
                .findFirst()
                .orElse("");
      } catch (IOException e) {
        throw new UsageException(
            "cannot read --backend-auth-password-file " + passwordFile.get() + ": " + e);
      }
      if (password.isEmpty()) {
        throw new UsageException(
            "--backend-auth-password-file "
                + passwordFile.get()
                + " has no password on its first line");
      }
      verifier.auth(user.get(), password);
    }
  }

  private static String postmaster(Optional<String> configured, List<String> domains) {
    if (configured.isPresent()) {
      Optional<String> problem = AddressCheck.problem(configured.get());
      if (problem.isPresent()) {
        throw new UsageException("--postmaster must be an address: " + problem.get());
      }
      return configured.get();
    }
    if (domains.isEmpty() || domains.get(0).contains("*")) {
      throw new UsageException(
          "--postmaster ADDRESS is required when the first --domain is a pattern ("
              + domains
              + ")");
    }
    return "postmaster@" + domains.get(0);
  }

  private static Optional<Tls> tls(Settings s) {
    Optional<String> cert = s.last("tls-cert");
    Optional<String> key = s.last("tls-key");
    boolean required = s.bool("require-tls").orElse(false);
    if (cert.isPresent() != key.isPresent()) {
      throw new UsageException("--tls-cert and --tls-key go together");
    }
    if (cert.isEmpty()) {
      if (required) {
        throw new UsageException("--require-tls needs --tls-cert and --tls-key");
      }
      return Optional.empty();
    }
    return Optional.of(new Tls(Path.of(cert.get()), Path.of(key.get()), required));
  }

  private static List<String[]> readProperties(Path file) {
    Properties properties = new Properties();
    try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      properties.load(reader);
    } catch (IOException e) {
      throw new UsageException("cannot read config file " + file + ": " + e.getMessage());
    }
    List<String[]> pairs = new ArrayList<>();
    for (String name :
        new TreeMap<>(Map.copyOf(properties)).keySet().stream().map(Object::toString).toList()) {
      if (!KNOWN.contains(name)) {
        throw new UsageException("unknown setting '" + name + "' in " + file);
      }
      pairs.add(new String[] {name, properties.getProperty(name).strip()});
    }
    return pairs;
  }

  /** Typed access to the collected values, with one-line errors. */
  private record Settings(Map<String, List<String>> values) {
    Optional<String> last(String name) {
      List<String> all = values.get(name);
      return all == null ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    List<String> list(String name) {
      List<String> items = new ArrayList<>();
      for (String value : values.getOrDefault(name, List.of())) {
        for (String item : value.split(",")) {
          if (!item.isBlank()) {
            items.add(item.strip());
          }
        }
      }
      return items;
    }

    Optional<Long> number(String name) {
      return last(name).map(v -> positive(v, "--" + name));
    }

    Optional<Long> whole(String name) {
      return last(name).map(v -> v.equals("0") ? 0L : positive(v, "--" + name));
    }

    Optional<Boolean> bool(String name) {
      return last(name)
          .map(
              v ->
                  switch (v.toLowerCase(Locale.ROOT)) {
                    case "true", "yes" -> true;
                    case "false", "no" -> false;
                    default ->
                        throw new UsageException(
                            "--" + name + " needs true or false, got '" + v + "'");
                  });
    }

    <E extends Enum<E>> E choice(String name, String value, Class<E> type) {
      return choose(name, value, type);
    }

    static <E extends Enum<E>> E choose(String name, String value, Class<E> type) {
      try {
        return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new UsageException(
            "--"
                + name
                + " needs one of "
                + java.util.Arrays.stream(type.getEnumConstants())
                    .map(c -> c.name().toLowerCase(Locale.ROOT))
                    .toList()
                + ", got '"
                + value
                + "'");
      }
    }
  }

  static long positive(String value, String option) {
    try {
      long number = Long.parseLong(value);
      if (number > 0) {
        return number;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new UsageException(option + " needs a positive whole number, got '" + value + "'");
  }
}
