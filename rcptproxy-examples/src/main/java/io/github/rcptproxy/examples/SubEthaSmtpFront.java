package io.github.rcptproxy.examples;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.subethasmtp.RecipientPolicy;
import io.github.rcptproxy.subethasmtp.RecipientVerifyingHandlerFactory;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import org.subethamail.smtp.MessageHandlerFactory;
import org.subethamail.smtp.server.SMTPServer;

/**
 * Use 2: a SubEthaSMTP server that refuses unknown recipients at RCPT time. Your own {@link
 * MessageHandlerFactory} sees only the recipients the backend knows.
 */
public final class SubEthaSmtpFront {
  private SubEthaSmtpFront() {}

  /** Starts a server on {@code port} (0: any free port) in front of the backend. */
  public static SMTPServer start(
      int port, RecipientVerifier verifier, MessageHandlerFactory yourHandlers) {
    // RecipientPolicy.defaults() lets 127.0.0.1, ::1 and the backend's own address through
    // unchecked, as the 2005 sink did; this front checks every client.
    RecipientPolicy everyClient = RecipientPolicy.builder().bypass().bypassBackend(false).build();
    SMTPServer server =
        SMTPServer.port(port)
            .bindAddress(java.net.InetAddress.getLoopbackAddress())
            .serverSocketFactory(SubEthaSmtpFront::noDelayServerSocket)
            .messageHandlerFactory(
                RecipientVerifyingHandlerFactory.wrap(yourHandlers, verifier, everyClient))
            .build();
    server.start();
    return server;
  }

  /**
   * A server socket whose connections send each write at once ({@code TCP_NODELAY}): SubEthaSMTP
   * writes the replies to a pipelined group one by one, and with Nagle's algorithm each after the
   * first would wait for the client's delayed ACK (40 ms on Linux).
   */
  static ServerSocket noDelayServerSocket() throws IOException {
    return new ServerSocket() {
      @Override
      public Socket accept() throws IOException {
        Socket socket = super.accept();
        socket.setTcpNoDelay(true);
        return socket;
      }
    };
  }

  /** The verifier the server asks; close it after the server. */
  public static RecipientVerifier verifier(String backendHost, int backendPort) {
    return RecipientVerifier.create(
        VerifierConfig.builder().backend(backendHost, backendPort).build());
  }
}
