package io.github.rcptproxy.gateway.ops;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.UsageException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The STARTTLS side of the gateway: a certificate chain and a private key from PEM files, read
 * again when either file changes (a renewed certificate needs no restart; a broken one is logged
 * and the running one stays). TLS 1.2 and 1.3 only.
 */
public final class TlsFiles {
  private static final Logger LOG = LoggerFactory.getLogger(TlsFiles.class);
  private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
  private static final Pattern KEY =
      Pattern.compile("-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");

  private final Path certificate;
  private final Path key;
  private volatile SSLContext context;
  private List<FileTime> seen;

  /**
   * @throws UsageException if the files cannot be read or do not make a certificate and its key
   */
  public TlsFiles(GatewaySettings.Tls settings) {
    this.certificate = settings.certificate();
    this.key = settings.key();
    this.seen = modified();
    try {
      this.context = load();
    } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
      throw new UsageException("cannot use --tls-cert/--tls-key: " + e.getMessage());
    }
  }

  /** Reads the files again if they changed since the last look. */
  public void reloadIfChanged() {
    List<FileTime> now = modified();
    if (Objects.equals(now, seen)) {
      return;
    }
    seen = now;
    try {
      context = load();
      LOG.info("TLS certificate reloaded from {}", certificate);
    } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
      LOG.error("TLS certificate not reloaded, keeping the running one: {}", e.toString());
    }
  }

  /** Turns an accepted client connection into the server side of a TLS one (SubEthaSMTP's hook). */
  public SSLSocket wrap(Socket socket) throws IOException {
    InetSocketAddress remote = (InetSocketAddress) socket.getRemoteSocketAddress();
    SSLSocket ssl =
        (SSLSocket)
            context
                .getSocketFactory()
                .createSocket(socket, remote.getHostString(), socket.getPort(), true);
    ssl.setUseClientMode(false);
    ssl.setEnabledProtocols(
        Arrays.stream(PROTOCOLS)
            .filter(Arrays.asList(ssl.getSupportedProtocols())::contains)
            .toArray(String[]::new));
    return ssl;
  }

  private SSLContext load() throws IOException, GeneralSecurityException {
    Certificate[] chain;
    try (var in = Files.newInputStream(certificate)) {
      chain =
          CertificateFactory.getInstance("X.509")
              .generateCertificates(in)
              .toArray(Certificate[]::new);
    }
    if (chain.length == 0) {
      throw new IllegalArgumentException("no certificate in " + certificate);
    }
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setKeyEntry("gateway", privateKey(chain[0]), new char[0], chain);
    KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    keys.init(store, new char[0]);
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(keys.getKeyManagers(), null, null);
    return tls;
  }

  private PrivateKey privateKey(Certificate certificate)
      throws IOException, GeneralSecurityException {
    Matcher pem = KEY.matcher(Files.readString(key, StandardCharsets.US_ASCII));
    if (!pem.find()) {
      throw new IllegalArgumentException(
          key
              + " holds no unencrypted PKCS#8 key (BEGIN PRIVATE KEY); convert it with"
              + " openssl pkcs8 -topk8 -nocrypt");
    }
    PKCS8EncodedKeySpec spec =
        new PKCS8EncodedKeySpec(Base64.getMimeDecoder().decode(pem.group(1)));
    String algorithm = certificate.getPublicKey().getAlgorithm();
    return KeyFactory.getInstance(algorithm).generatePrivate(spec);
  }

  private List<FileTime> modified() {
    return Arrays.asList(modified(certificate), modified(key));
  }

  private static FileTime modified(Path file) {
    try {
      return Files.getLastModifiedTime(file);
    } catch (IOException e) {
      return null;
    }
  }
}
