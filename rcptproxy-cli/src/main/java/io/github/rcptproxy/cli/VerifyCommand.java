package io.github.rcptproxy.cli;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.SmtpText;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code rcptproxy verify --backend HOST:PORT [options] [ADDRESS...]}: one line per address, {@code
 * ADDRESS<TAB>ACCEPTED|REJECTED|UNVERIFIED<TAB>detail}, in input order. Reads addresses from
 * standard input, one per line, when none are given.
 */
@Command(
    name = "verify",
    description = {
      "Asks the backend SMTP server about each address (VRFY where it answers honestly, else MAIL"
          + " FROM + RCPT TO, never DATA) and prints one line per address, in input order:",
      "  ADDRESS<TAB>ACCEPTED|REJECTED|UNVERIFIED<TAB>detail",
      "With no ADDRESS, reads addresses from standard input, one per line.",
      Rcptproxy.SOURCES
    },
    exitCodeList = {"0:every address was asked", Rcptproxy.BAD_OPTION})
final class VerifyCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin ConfigDefaults.ConfigOption config;

  @Mixin VerifierOptions options;

  @Parameters(
      paramLabel = "ADDRESS",
      arity = "0..*",
      showDefaultValue = Visibility.NEVER,
      description = "addresses to verify")
  List<String> addresses = new ArrayList<>();

  @Mixin Rcptproxy.Usage usage; // help, --version, how help is laid out

  private InputStream in = System.in;

  /** Where addresses are read from when none are given (standard input by default). */
  void readFrom(InputStream in) {
    this.in = in;
  }

  @Override
  public Integer call() throws IOException {
    VerifierConfig config = options.config();
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
