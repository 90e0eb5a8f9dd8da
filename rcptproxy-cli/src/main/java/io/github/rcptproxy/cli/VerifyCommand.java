package io.github.rcptproxy.cli;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.internal.smtp.SmtpText;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code rcptproxy verify --backend HOST:PORT [options] [ADDRESS...]}: one line per address, {@code
 * ADDRESS<TAB>ACCEPTED|REJECTED|UNVERIFIED<TAB>detail}, in input order. Reads addresses from
 * standard input, one per line, when none are given.
 */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    showDefaultValues = true,
    description = {
      "Asks the backend SMTP server about each address (VRFY where it answers honestly, else MAIL"
          + " FROM + RCPT TO, never DATA) and prints one line per address, in input order:",
      "  ADDRESS<TAB>ACCEPTED|REJECTED|UNVERIFIED<TAB>detail",
      "With no ADDRESS, reads addresses from standard input, one per line. Every option can also"
          + " come from the environment (RCPTPROXY_TIMEOUT_MS) or --config FILE."
    },
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {"0:every address was asked", "2:bad option"})
final class VerifyCommand implements Callable<Integer> {
  static final String USAGE =
      """
      java -jar rcptproxy.jar verify (or: rcptproxy verify) --backend HOST:PORT
        [--timeout-ms N] [--helo NAME] [--probe-sender ADDR] [--backend-tls MODE] [--backend-ca PEM]
        [--backend-auth-user NAME --backend-auth-password-file FILE] [--backend-protocol smtp|lmtp]
        [ADDRESS...]; `rcptproxy verify --help` describes each
      """;

  @Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--config", paramLabel = "FILE", description = "properties file of options")
  String config;

  @Option(
      names = "--backend",
      paramLabel = "HOST:PORT",
      required = true,
      description = "the backend SMTP server (port defaults to 25)")
  String backend;

  @Option(
      names = "--timeout-ms",
      paramLabel = "N",
      defaultValue = "3000",
      description = "deadline per verification in milliseconds")
  long timeoutMs;

  @Option(names = "--helo", paramLabel = "NAME", defaultValue = "world", description = "EHLO name")
  String helo;

  @Option(
      names = "--probe-sender",
      paramLabel = "ADDR",
      defaultValue = "",
      description = "MAIL FROM of the probe (default <>, the null sender)")
  String probeSender;

  @Mixin BackendTransportOptions transport;

  @Parameters(paramLabel = "ADDRESS", arity = "0..*", description = "addresses to verify")
  List<String> addresses = new ArrayList<>();

  private InputStream in = System.in;

  /** Where addresses are read from when none are given (standard input by default). */
  void readFrom(InputStream in) {
    this.in = in;
  }

  @Override
  public Integer call() throws IOException {
    VerifierConfig config = config();
    PrintWriter out = spec.commandLine().getOut();
    try (RecipientVerifier verifier = RecipientVerifier.create(config)) {
      if (addresses.isEmpty()) {
        BufferedReader reader =
            new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
          if (!line.isBlank()) {
            out.println(describe(line.strip(), verifier.verify(line.strip())));
          }
        }
      } else {
        for (String address : addresses) {
          out.println(describe(address, verifier.verify(address)));
        }
      }
    }
    out.flush();
    return 0;
  }

  private VerifierConfig config() {
    try {
      if (timeoutMs <= 0) {
        throw new IllegalArgumentException(
            "--timeout-ms needs a positive whole number, got '" + timeoutMs + "'");
      }
      HostPort at = HostPort.parse(backend, 25);
      VerifierConfig.Builder builder =
          VerifierConfig.builder()
              .backend(at.host(), at.port())
              .deadline(Duration.ofMillis(timeoutMs))
              .heloName(helo)
              .probeSender(probeSender);
      transport.applyTo(builder);
      return builder.build();
    } catch (RuntimeException e) { // a value the builder refused, or a bad HOST:PORT
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
    }
  }

  /** One output line; the address is printed with control characters made visible. */
  static String describe(String address, Verdict verdict) {
    String shown = SmtpText.forLog(address);
    if (verdict instanceof Verdict.Accepted accepted) {
      return shown + "\tACCEPTED\t" + accepted.reply();
    }
    if (verdict instanceof Verdict.Rejected rejected) {
      return shown + "\tREJECTED\t" + rejected.reply();
    }
    Verdict.Unverified unverified = (Verdict.Unverified) verdict;
    return shown + "\tUNVERIFIED\t" + unverified.reason() + ": " + unverified.detail();
  }
}
