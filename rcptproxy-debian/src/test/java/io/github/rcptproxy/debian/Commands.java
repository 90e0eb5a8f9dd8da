package io.github.rcptproxy.debian;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs programs for the package tests, and reads systemd unit files. */
final class Commands {
  private Commands() {}

  /** What a finished program exited with and printed (standard output, then standard error). */
  record Result(int exitCode, String output) {}

  /** Runs {@code command} to its end (at most 5 minutes), with standard input closed. */
  static Result run(String... command) throws IOException {
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
            .start();
    try {
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(5, TimeUnit.MINUTES)) {
        process.destroyForcibly();
        throw new IOException(String.join(" ", command) + " did not finish");
      }
      return new Result(process.exitValue(), output);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  /** Whether {@code program} is an executable on the PATH. */
  static boolean installed(String program) {
    for (String directory : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!directory.isEmpty() && Files.isExecutable(Path.of(directory, program))) {
        return true;
      }
    }
    return false;
  }

  /**
   * The settings of a systemd unit file, {@code Section.Key} to value (a key given twice: the
   * last). Comments and blank lines are skipped; no unit here continues a line with a backslash.
   */
  static Map<String, String> unit(Path file) throws IOException {
    Map<String, String> settings = new LinkedHashMap<>();
    String section = "";
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (String line : lines) {
      String trimmed = line.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("#") || trimmed.startsWith(";")) {
        continue;
      }
      if (trimmed.startsWith("[") && trimmed.endsWith("]")) {
        section = trimmed.substring(1, trimmed.length() - 1);
        continue;
      }
      int equals = trimmed.indexOf('=');
      if (equals < 0 || trimmed.endsWith("\\")) {
        throw new IllegalArgumentException(file + ": cannot read the line '" + line + "'");
      }
      settings.put(
          section + "." + trimmed.substring(0, equals).strip(),
          trimmed.substring(equals + 1).strip());
    }
    return settings;
  }
}
