package io.github.rcptproxy.examples;

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
 * The relay's STARTTLS to the backend, as the verifier's: TLS 1.2+, with {@code VERIFY} the chain
 * checked against the configured trust (or the JDK's) and the certificate matched to the backend
 * host name (HTTPS rules, SNI sent); {@code REQUIRED} and {@code OPPORTUNISTIC} encrypt without
 * checking.
 */
final class BackendStartTls {
  private static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  private final BackendTls mode;
  private final SSLContext context;

  BackendStartTls(VerifierConfig config) {
    this.mode = config.tls();
    try {
      if (mode == BackendTls.VERIFY) {
        this.context = config.trust().orElse(SSLContext.getDefault());
      } else {
        this.context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {new TrustingEveryone()}, null);
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK offers no TLS", e);
    }
  }

  /** Whether STARTTLS must succeed before anything else is sent. */
  boolean required() {
    return mode == BackendTls.REQUIRED || mode == BackendTls.VERIFY;
  }

  SSLSocket handshake(Socket plain, String host, int port) throws IOException {
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
      if (host.indexOf(':') < 0 && !host.chars().allMatch(c -> c == '.' || Character.isDigit(c))) {
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

  private static final class TrustingEveryone implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
      // a client never asks this
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {
      // REQUIRED/OPPORTUNISTIC encrypt without checking, as Postfix's encrypt and may
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
