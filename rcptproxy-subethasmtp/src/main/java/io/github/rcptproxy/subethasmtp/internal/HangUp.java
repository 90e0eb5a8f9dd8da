package io.github.rcptproxy.subethasmtp.internal;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.server.Session;

/**
 * The one way rcptproxy's SMTP servers end a session themselves: {@code 421} (RFC 5321 §3.8), after
 * reading what the client pipelined and nobody read yet. Closing a socket with unread input sends a
 * TCP reset, which can destroy the {@code 421} before the client reads it (Postfix then defers with
 * "lost connection" instead of the reply). Not API: shared by the adapter and the gateway.
 */
public final class HangUp {
  private HangUp() {}

  /**
   * Reads the client's pending input and returns the exception that makes SubEthaSMTP answer {@code
   * 421 text} and close the connection.
   *
   * @param text the reply after the code, an enhanced status code first
   */
  public static DropConnectionException closing(MessageContext context, String text) {
    if (context instanceof Session session && session.getSocket() != null) {
      discardPendingInput(session.getSocket());
    }
    return new DropConnectionException(421, text);
  }

  /** Reads what the client has sent and nobody read yet, without waiting for more. */
  static void discardPendingInput(Socket socket) {
    try {
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      for (int i = 0, available = in.available(); i < 64 && available > 0; i++) {
        if (in.read(buffer, 0, Math.min(available, buffer.length)) < 0) {
          return;
        }
        available = in.available();
      }
    } catch (IOException e) {
      // the connection is going anyway
    }
  }
}
