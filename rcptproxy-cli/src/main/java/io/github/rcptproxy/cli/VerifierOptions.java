package io.github.rcptproxy.cli;

import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.gateway.HostPort;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The options of every command that asks the backend (gateway, policy, verify, probe): where it is,
 * how to greet it, how long to wait for it, and how to speak to it (STARTTLS, AUTH, LMTP). Declared
 * once here, so that each has one name, one help text and one default everywhere.
 */
final class VerifierOptions {
  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  @Option(
      names = "--backend",
      paramLabel = "HOST:PORT",
      split = ", *(?!$)", // a trailing comma stays in the last value, which is then refused
      converter = Converters.Backend.class,
      description =
          "the internal SMTP server that knows the mailboxes (port 25 if none is given; IPv6 as"
              + " [::1]:25); repeat, or separate with commas, for several: each is asked in turn,"
              + " one that does not answer or greet within the connect timeout is skipped for"
              + " 30 s")
  List<HostPort> backends;

  @Option(
      names = "--helo",
      paramLabel = "NAME",
      description =
          "name sent with EHLO to the backend (default: this host's fully qualified name, else"
              + " the address literal of the connection's local end)")
  String helo;

  @Option(
      names = "--probe-sender",
      paramLabel = "ADDRESS",
      defaultValue = "",
      showDefaultValue = Visibility.NEVER,
      description =
          "MAIL FROM of the verification probe; empty (the default) sends <>, the null sender")
  String probeSender;

  @Option(
      names = "--known-good",
      paramLabel = "ADDRESS",
      split = ", *(?!$)",
      description =
          "a real mailbox of the backend (repeat, or separate with commas; one per domain is"
              + " enough, never postmaster): asked right after a refusal that the transaction has"
              + " not shown to be about the address, until the backend has accepted one of its"
              + " own; without it such refusals are answered 451 until then")
  List<String> knownGood;

  // No defaultValue: the command gives its own as the field's initial value (probe waits longer).
  @Option(
      names = "--timeout-ms",
      paramLabel = "N",
      converter = Converters.Positive.class,
      description = "deadline of a verification in milliseconds (probe: of each reply)")
  int timeoutMs;

  @Option(
      names = "--backend-tls",
      paramLabel = "MODE",
      defaultValue = "none",
      converter = Converters.Tls.class,
      completionCandidates = Converters.Tls.class,
      description =
          "STARTTLS to the backend (${COMPLETION-CANDIDATES}): required never talks in the clear"
              + " (opportunistic does where STARTTLS fails); verify also checks the certificate"
              + " and the backend host name")
  BackendTls tls;

  @Option(
      names = "--backend-ca",
      paramLabel = "PEM",
      description = "CA certificates that --backend-tls verify trusts (default: the JDK's)")
  Path ca;

  @Option(
      names = "--backend-auth-user",
      paramLabel = "NAME",
      description =
          "AUTH PLAIN/LOGIN to the backend as NAME (with --backend-auth-password-file; needs"
              + " --backend-tls required or verify)")
  String authUser;

  @Option(
      names = "--backend-auth-password-file",
      paramLabel = "FILE",
      description = "the password for --backend-auth-user, the file's first line")
  Path authPasswordFile;

  @Option(
      names = "--backend-protocol",
      paramLabel = "PROTOCOL",
      defaultValue = "smtp",
      converter = Converters.Protocol.class,
      completionCandidates = Converters.Protocol.class,
      description =
          "${COMPLETION-CANDIDATES}; lmtp: LHLO, and one recipient per relayed message, so that"
              + " the backend's answer for each recipient reaches the client")
  BackendProtocol protocol;

  /** With the usual deadline of a verification, 3 s. */
  VerifierOptions() {
    this(3000);
  }

  VerifierOptions(int defaultTimeoutMs) {
    this.timeoutMs = defaultTimeoutMs;
  }

  /**
   * Sets these options on {@code builder} (the backend only if one was given). The password is read
   * from its file here, on every call: a reloaded gateway reads it again.
   *
   * @throws IllegalArgumentException naming the option, for a value that cannot be used
   */
  void applyTo(VerifierConfig.Builder builder) {
    if (backends != null && !backends.isEmpty()) {
      builder.backends(
          backends.stream()
              .map(b -> InetSocketAddress.createUnresolved(b.host(), b.port()))
              .toList());
    }
    if (helo != null) {
      builder.heloName(helo);
    }
    builder
        .probeSender(probeSender)
        .deadline(Duration.ofMillis(timeoutMs))
        .tls(tls)
        .protocol(protocol);
    if (ca != null) {
      builder.trustPem(ca);
    }
    if (knownGood != null) {
      builder.knownGood(knownGood);
    }
    if ((authUser == null) != (authPasswordFile == null)) {
      throw new IllegalArgumentException(
          "--backend-auth-user and --backend-auth-password-file go together");
    }
    if (authUser != null) {
      builder.auth(authUser, password(authPasswordFile));
    }
  }

  /** The backends given, in their order (none if --backend was not given). */
  List<HostPort> backends() {
    return backends == null ? List.of() : backends;
  }

  /**
   * The configuration of a command that asks the backends, --backend, in their order (verify).
   *
   * @throws picocli.CommandLine.ParameterException without --backend, or for a refused value
   */
  VerifierConfig config() {
    return Rcptproxy.checked(
        command,
        () -> {
          if (backends().isEmpty()) {
            throw new IllegalArgumentException("--backend HOST:PORT is required");
          }
          VerifierConfig.Builder builder = VerifierConfig.builder();
          applyTo(builder);
          return builder.build();
        });
  }

  /**
   * The configuration of these options for {@code backend} alone (probe asks each in turn).
   *
   * @throws picocli.CommandLine.ParameterException for a refused value
   */
  VerifierConfig config(HostPort backend) {
    return Rcptproxy.checked(
        command,
        () -> {
          VerifierConfig.Builder builder = VerifierConfig.builder();
          applyTo(builder);
          return builder.backend(backend.host(), backend.port()).build();
        });
  }

  private static String password(Path file) {
    String password;
    try {
      password = Files.readAllLines(file, StandardCharsets.UTF_8).stream().findFirst().orElse("");
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot read --backend-auth-password-file " + file + ": " + e);
    }
    if (password.isEmpty()) {
      throw new IllegalArgumentException(
          "--backend-auth-password-file " + file + " has no password on its first line");
    }
    return password;
  }
}
