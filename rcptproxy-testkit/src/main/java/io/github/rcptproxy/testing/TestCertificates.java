package io.github.rcptproxy.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A test CA and a server certificate it signed for {@code DNS:localhost} only (no IP address), made
 * with {@code openssl} in a temporary directory; and a second, unrelated CA that trusts nothing
 * here. Needs {@code /usr/bin/openssl}: skipped without it, except under CI ({@code CI=true}),
 * where it fails.
 */
public final class TestCertificates {
  private static final Path OPENSSL = Path.of("/usr/bin/openssl");
  private static TestCertificates shared;

  private final Path dir;

  private TestCertificates(Path dir) {
    this.dir = dir;
  }

  /** The JVM's certificates, made on first call. */
  public static synchronized TestCertificates shared() {
    boolean available = Files.isExecutable(OPENSSL);
    if (!available && "true".equals(System.getenv("CI"))) {
      Assertions.fail("CI=true but " + OPENSSL + " is missing: .ci/run must install openssl");
    }
    Assumptions.assumeTrue(available, "TLS tests skipped: install openssl (.ci/run does)");
    if (shared == null) {
      try {
        shared = make(Files.createTempDirectory("rcptproxy-certs-"));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return shared;
  }

  /** The CA that signed the server certificate (PEM). */
  public Path caPem() {
    return dir.resolve("ca.pem");
  }

  /** A CA that signed nothing here (PEM). */
  public Path otherCaPem() {
    return dir.resolve("other-ca.pem");
  }

  /** The server certificate for {@code localhost} (PEM). */
  public Path serverCertificate() {
    return dir.resolve("server.pem");
  }

  /** Its key, unencrypted PKCS#8 (PEM), readable by root only. */
  public Path serverKey() {
    return dir.resolve("server.key");
  }

  private static TestCertificates make(Path dir) throws IOException {
    Files.writeString(
        dir.resolve("server.ext"),
        "subjectAltName = DNS:localhost\n"
            + "basicConstraints = critical, CA:FALSE\n"
            + "keyUsage = critical, digitalSignature, keyEncipherment\n"
            + "extendedKeyUsage = serverAuth\n");
    for (String ca : List.of("ca", "other-ca")) {
      openssl(
          dir,
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          ca + ".key",
          "-out",
          ca + ".pem",
          "-days",
          "3",
          "-subj",
          "/CN=rcptproxy test " + ca,
          "-addext",
          "basicConstraints=critical,CA:TRUE",
          "-addext",
          "keyUsage=critical,keyCertSign,cRLSign");
    }
    openssl(
        dir,
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost");
    openssl(
        dir,
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "3",
        "-extfile",
        "server.ext");
    return new TestCertificates(dir);
  }

  private static void openssl(Path dir, String... arguments) throws IOException {
    String[] command = new String[arguments.length + 1];
    command[0] = OPENSSL.toString();
    System.arraycopy(arguments, 0, command, 1, arguments.length);
    Process process =
        new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    try {
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
        throw new IOException(String.join(" ", command) + " failed: " + output);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }
}
