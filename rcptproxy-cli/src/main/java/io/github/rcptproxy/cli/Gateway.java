package io.github.rcptproxy.cli;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.UsageException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;

/**
 * Entry point of {@code rcptproxy.jar}: the screening gateway ({@code --listen ... --backend ...
 * --domain ...}), its {@code --demo}, and the {@code verify} command.
 */
public final class Gateway {
  static final int USAGE_ERROR = 2;
  static final String USAGE =
      """
      rcptproxy-gateway: an SMTP front that accepts mail only for recipients the backend knows,
      asking the backend at RCPT time, and relays accepted mail to it.

      Usage:
        java -jar rcptproxy.jar --demo
        java -jar rcptproxy.jar --listen HOST:PORT --backend HOST:PORT --domain NAME [options]
        java -jar rcptproxy.jar --config FILE [options]
        java -jar rcptproxy.jar verify --backend HOST:PORT [options] [ADDRESS...]

      """;

  private Gateway() {}

  public static void main(String[] args) {
    int code = run(args, System.in, System.out, System.err);
    if (code >= 0) {
      System.exit(code);
    }
    CountDownLatch forever = new CountDownLatch(1);
    try {
      forever
          .await(); // the gateway runs until the JVM is told to stop; the shutdown hook drains it
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Runs a command line. Returns the exit code of a command that has finished, or -1 when a gateway
   * was started and keeps running (it is stopped by the JVM's shutdown hook).
   */
  static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
    if (Rcptproxy.isSubcommand(args)) {
      return Rcptproxy.run(args, in, out, err);
    }
    try {
      if (args.length == 0
          || Arrays.asList(args).contains("--help")
          || Arrays.asList(args).contains("-h")) {
        out.print(USAGE + GatewaySettings.OPTIONS + "\n" + VerifyCommand.USAGE);
        return args.length == 0 ? USAGE_ERROR : 0;
      }
      AutoCloseable running;
      if (Arrays.asList(args).contains("--demo")) {
        running = Demo.start(args, out);
      } else {
        RunningGateway gateway = RunningGateway.start(GatewaySettings.parse(args));
        out.println("rcptproxy gateway listening on " + gateway.listening() + "; Ctrl-C stops");
        running = gateway;
      }
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try {
                      running.close();
                    } catch (Exception e) {
                      err.println("rcptproxy-gateway: error while stopping: " + e);
                    }
                  },
                  "rcptproxy-shutdown"));
      return -1;
    } catch (UsageException e) {
      err.println("rcptproxy-gateway: " + e.getMessage());
      return USAGE_ERROR;
    }
  }
}
