package io.github.rcptproxy.internal.smtp;

import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.VerifierConfig;
import java.io.IOException;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * The client side of STARTTLS, once the server said {@code 220} to it: a TLS 1.2+ socket layered
 * over the connected one. With {@link BackendTls#VERIFY} the chain is checked against the
 * configured trust (or the JDK's) and the certificate must name the host (endpoint identification
 * as for HTTPS: DNS names with wildcards, IP addresses); SNI carries the name. {@link
 * BackendTls#REQUIRED} and {@link BackendTls#OPPORTUNISTIC} encrypt without checking, as Postfix's
 * {@code encrypt} and {@code may} do.
 *
 * <p>This is the SMTP plumbing rcptproxy's own modules share, used by {@link ClientSecurity} for
 * every {@link SmtpConnection}. Immutable after construction, so one instance serves every
 * connection and thread; each handshake's socket is confined to its connection.
 */
public final class ClientTls {
  private static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  private final BackendTls mode;
  private final SSLContext context;

  /**
   * STARTTLS as the configuration asks: {@link VerifierConfig#tls()} and {@link
   * VerifierConfig#trust()}.
   *
   * @throws IllegalArgumentException if the configuration's TLS is {@link BackendTls#NONE}
   */
  public ClientTls(VerifierConfig config) {
    this.mode = config.tls();
    if (mode == BackendTls.NONE) {
      throw new IllegalArgumentException("tls is NONE: no STARTTLS to do");
    }
    try {
      this.context =
          mode == BackendTls.VERIFY
              ? config.trust().orElse(SSLContext.getDefault())
              : TrustingEveryone.CONTEXT;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK offers no TLS", e);
    }
  }

  /**
   * Whether STARTTLS must succeed before anything else is sent ({@link BackendTls#REQUIRED} or
   * {@link BackendTls#VERIFY}); else the session may stay in the clear where it is not offered.
   */
  public boolean required() {
    return mode != BackendTls.OPPORTUNISTIC;
  }

  /**
   * Layers TLS over the socket and completes the handshake within the socket's timeout.
   *
   * @throws IOException if the handshake fails or the certificate does not verify
   */
  public SSLSocket handshake(Socket plain, String host, int port) throws IOException {
    SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(plain, host, port, true);
    try {
      socket.setUseClientMode(true);
      SSLParameters parameters = socket.getSSLParameters();
      parameters.setProtocols(
          Arrays.stream(socket.getSupportedProtocols())
              .filter(PROTOCOLS::contains)
              .toArray(String[]::new));
      if (mode == BackendTls.VERIFY) {
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
      }
      if (!isAddressLiteral(host)) {
        parameters.setServerNames(List.of(new SNIHostName(host)));
      }
      socket.setSSLParameters(parameters);
      socket.startHandshake();
      return socket;
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  private static boolean isAddressLiteral(String host) {
    return host.indexOf(':') >= 0 || host.chars().allMatch(c -> c == '.' || c >= '0' && c <= '9');
  }

  /**
   * Encrypts with anyone: REQUIRED and OPPORTUNISTIC protect against listening, not against a man
   * in the middle. One context for the JVM: making one costs milliseconds (its random source).
   */
  private static final class TrustingEveryone implements X509TrustManager {
    static final SSLContext CONTEXT;

    static {
      try {
        CONTEXT = SSLContext.getInstance("TLS");
        CONTEXT.init(null, new TrustManager[] {new TrustingEveryone()}, null);
      } catch (GeneralSecurityException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
      // a client never asks this
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {
      // not verified by design (REQUIRED/OPPORTUNISTIC); VERIFY uses the real trust managers
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
