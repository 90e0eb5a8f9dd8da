package io.github.rcptproxy.subethasmtp;

import io.github.rcptproxy.testing.SmtpClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.UnaryOperator;
import org.subethamail.smtp.MessageHandlerFactory;
import org.subethamail.smtp.server.SMTPServer;

/** A SubEthaSMTP server on an ephemeral port (all local addresses) with the given handlers. */
final class FrontServer implements AutoCloseable {
  private final SMTPServer server;

  FrontServer(MessageHandlerFactory factory) {
    this(factory, builder -> builder);
  }

  FrontServer(MessageHandlerFactory factory, UnaryOperator<SMTPServer.Builder> customise) {
    server =
        customise
            .apply(
                SMTPServer.port(0)
                    .hostName("front.test")
                    .insertReceivedHeaders(false)
                    .messageHandlerFactory(factory))
            .build();
    server.start();
  }

  int port() {
    return server.getPortAllocated();
  }

  /** A client over IPv4 loopback, greeted and introduced. */
  SmtpClient client() {
    return client("127.0.0.1");
  }

  SmtpClient client(String host) {
    try {
      SmtpClient client = new SmtpClient(host, port());
      client.readReply();
      client.send("EHLO client.test");
      return client;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    server.stop();
  }
}
