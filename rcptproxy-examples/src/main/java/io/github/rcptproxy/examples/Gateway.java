package io.github.rcptproxy.examples;

import java.io.InputStream;
import java.io.PrintStream;
import java.util.Arrays;

/** Entry point of {@code rcptproxy-gateway.jar}: dispatches to a sub-command. */
public final class Gateway {
  static final int USAGE_ERROR = 2;

  private Gateway() {}

  public static void main(String[] args) {
    System.exit(run(args, System.in, System.out, System.err));
  }

  /** Runs a command line and returns the exit code, without exiting (for tests). */
  static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
      out.print(VerifyCommand.USAGE);
      return args.length == 0 ? USAGE_ERROR : 0;
    }
    try {
      if (args[0].equals("verify")) {
        return new VerifyCommand(Arrays.copyOfRange(args, 1, args.length)).run(in, out);
      }
      throw new UsageException("unknown command '" + args[0] + "' (try --help)");
    } catch (UsageException e) {
      err.println("rcptproxy-gateway: " + e.getMessage());
      return USAGE_ERROR;
    }
  }
}
