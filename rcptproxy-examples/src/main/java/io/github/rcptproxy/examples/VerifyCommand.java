package io.github.rcptproxy.examples;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.smtp.SmtpText;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code verify --backend HOST:PORT [--timeout-ms N] [ADDRESS...]}: one line per address, {@code
 * ADDRESS<TAB>ACCEPTED|REJECTED|UNVERIFIED<TAB>detail}, in input order. Reads addresses from
 * standard input, one per line, when none are given.
 */
final class VerifyCommand {
  static final String USAGE =
      """
      The verify command asks the backend SMTP server about each address (MAIL FROM + RCPT TO, never DATA) and
      prints one line per address, in input order:
        ADDRESS<TAB>ACCEPTED|REJECTED|UNVERIFIED<TAB>detail
      With no ADDRESS, reads addresses from standard input, one per line.

      Options:
        --backend HOST:PORT   the backend SMTP server (port defaults to 25)
        --timeout-ms N        deadline per verification in milliseconds (default 3000)
        --helo NAME           name sent with EHLO (default world)
        --probe-sender ADDR   MAIL FROM address of the probe (default <>, the null sender)
        --backend-tls none|opportunistic|required|verify, --backend-ca PEM,
        --backend-auth-user NAME, --backend-auth-password-file FILE, --backend-protocol smtp|lmtp
                              as for the gateway (above)
      """;

  private static final Set<String> BACKEND_TRANSPORT =
      Set.of(
          "--backend-tls",
          "--backend-ca",
          "--backend-auth-user",
          "--backend-auth-password-file",
          "--backend-protocol");

  private final VerifierConfig config;
  private final List<String> addresses = new ArrayList<>();

  VerifyCommand(String[] args) {
    VerifierConfig.Builder builder = VerifierConfig.builder();
    boolean backendGiven = false;
    Map<String, String> transport = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (BACKEND_TRANSPORT.contains(arg)) {
        transport.put(arg.substring(2), value(args, ++i, arg));
        continue;
      }
      switch (arg) {
        case "--backend" -> {
          HostPort backend = HostPort.parse(value(args, ++i, arg), 25);
          builder.backend(backend.host(), backend.port());
          backendGiven = true;
        }
        case "--timeout-ms" ->
            builder.deadline(Duration.ofMillis(positive(value(args, ++i, arg), arg)));
        case "--helo" -> builder.heloName(value(args, ++i, arg));
        case "--probe-sender" -> builder.probeSender(value(args, ++i, arg));
        default -> {
          if (arg.startsWith("--")) {
            throw new UsageException("unknown option " + arg);
          }
          addresses.add(arg);
        }
      }
    }
    if (!backendGiven) {
      throw new UsageException("verify needs --backend HOST:PORT");
    }
    try {
      GatewaySettings.backendTransport(name -> Optional.ofNullable(transport.get(name)), builder);
      config = builder.build();
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
  }

  int run(InputStream in, PrintStream out) {
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
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    out.flush();
    return 0;
  }

  /** One output line; the address is printed safe for a terminal ({@link SmtpText#forLog}). */
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

  static String value(String[] args, int index, String option) {
    if (index >= args.length) {
      throw new UsageException(option + " needs a value");
    }
    return args[index];
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
