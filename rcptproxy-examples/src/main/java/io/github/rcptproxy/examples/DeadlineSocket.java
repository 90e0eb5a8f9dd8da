package io.github.rcptproxy.examples;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;

/**
 * A client connection whose reads share one deadline: a client trickling a byte now and then still
 * runs out of time, which a socket timeout (restarted by every byte) cannot do. The front sets the
 * deadline per command line and per message; TLS, layered over this socket, reads through it too.
 */
final class DeadlineSocket extends Socket {
  private volatile long deadline = Long.MAX_VALUE;
  private volatile boolean hasDeadline;
  private volatile int idleTimeout;

  /** From now on, reads fail with {@link SocketTimeoutException} once {@code allowed} is over. */
  void deadlineIn(Duration allowed) {
    deadline = System.nanoTime() + allowed.toNanos();
    hasDeadline = true;
  }

  /** A socket timeout bounds one read; the deadline bounds them all. */
  @Override
  public void setSoTimeout(int timeout) throws SocketException {
    idleTimeout = timeout;
    super.setSoTimeout(timeout);
  }

  @Override
  public InputStream getInputStream() throws IOException {
    return new FilterInputStream(super.getInputStream()) {
      @Override
      public int read() throws IOException {
        beforeRead();
        return super.read();
      }

      @Override
      public int read(byte[] buffer, int offset, int length) throws IOException {
        beforeRead();
        return super.read(buffer, offset, length);
      }
    };
  }

  private void beforeRead() throws IOException {
    if (!hasDeadline) {
      return;
    }
    long left = Duration.ofNanos(deadline - System.nanoTime()).toMillis();
    if (left <= 0) {
      throw new SocketTimeoutException("client deadline passed");
    }
    super.setSoTimeout((int) Math.min(idleTimeout > 0 ? idleTimeout : Integer.MAX_VALUE, left));
  }

  /** Accepts {@link DeadlineSocket}s. */
  static final class Server extends ServerSocket {
    Server() throws IOException {
      super();
    }

    @Override
    public Socket accept() throws IOException {
      if (isClosed()) {
        throw new SocketException("Socket is closed");
      }
      DeadlineSocket socket = new DeadlineSocket();
      implAccept(socket);
      return socket;
    }
  }
}
