package io.github.rcptproxy.cli;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.RunningGateway;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code rcptproxy gateway}: the screening SMTP gateway. */
@Command(
    name = "gateway",
    description = {
      "The screening SMTP gateway: accepts mail only for recipients the backend knows, asking it"
          + " at RCPT time, and relays accepted mail to it.",
      "--config FILE is read again when it changes; the listen address, host name, limits, TLS"
          + " files, metrics and summary settings need a restart.",
      Rcptproxy.SOURCES
    },
    exitCodeList = {Rcptproxy.STOPPED, Rcptproxy.NOT_STARTED, Rcptproxy.BAD_OPTION})
final class GatewayCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin ConfigDefaults.ConfigOption config;

  @Mixin GatewayOptions options;

  @Mixin Rcptproxy.Usage usage; // help, --version, how help is laid out

  @Override
  public Integer call() {
    RunningGateway gateway = start();
    spec.commandLine()
        .getOut()
        .println("rcptproxy gateway listening on " + gateway.listening() + "; Ctrl-C stops");
    return Rcptproxy.keepRunning(spec, gateway);
  }

  /** Starts the gateway, watching the config file if there is one. */
  RunningGateway start() {
    GatewaySettings settings = settings();
    ConfigDefaults sources = (ConfigDefaults) spec.defaultValueProvider();
    Optional<Path> file = sources.file();
    return Rcptproxy.checked(
        spec,
        () ->
            file.isEmpty()
                ? RunningGateway.start(settings)
                : RunningGateway.start(
                    settings, new RunningGateway.ConfigFile(file.get(), () -> reread(sources))));
  }

  GatewaySettings settings() {
    return Rcptproxy.checked(spec, () -> options.builder().build());
  }

  /** The settings of the same command line, with the config file read again. */
  private static GatewaySettings reread(ConfigDefaults sources) {
    return Rcptproxy.parse(sources.reread(), GatewayCommand.class).settings();
  }
}
