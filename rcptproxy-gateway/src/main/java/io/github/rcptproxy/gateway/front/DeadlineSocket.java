package io.github.rcptproxy.gateway.front;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A client connection whose reads and writes share one deadline: a client trickling a byte now and
 * then still runs out of time, which a socket timeout (restarted by every byte) cannot do; and a
 * client that never reads its replies, so that the gateway's write blocks, is hung up on when the
 * deadline passes, which no socket timeout can do at all (it bounds reads only). The front sets the
 * deadline per command line and per message; TLS, layered over this socket, reads and writes
 * through it too.
 *
 * <p>A read is bounded by a socket timeout of what is left. A write is guarded by a close scheduled
 * on the watchdog for the deadline (or, for a write that starts when less than {@link #WRITE_GRACE}
 * is left, such as the {@code 421} that reports the timeout, that grace from now); a write that
 * ends in time cancels it. A client that reads its replies never has a write block.
 */
public final class DeadlineSocket extends Socket {
  /** What a write that starts at or after the deadline still gets. */
  static final Duration WRITE_GRACE = Duration.ofSeconds(1);

  private final ScheduledExecutorService watchdog;
  private volatile long deadline = Long.MAX_VALUE;
  private volatile boolean hasDeadline;
  private volatile int idleTimeout;
  private volatile boolean expired;

  DeadlineSocket(ScheduledExecutorService watchdog) {
    this.watchdog = watchdog;
  }

  /**
   * From now on, reads fail with {@link SocketTimeoutException} once {@code allowed} is over, and a
   * write still blocked then closes the connection.
   */
  void deadlineIn(Duration allowed) {
    deadline = System.nanoTime() + allowed.toNanos();
    hasDeadline = true;
  }

  /** Whether the connection was closed because a write was still blocked at the deadline. */
  boolean expired() {
    return expired;
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

  @Override
  public OutputStream getOutputStream() throws IOException {
    return new FilterOutputStream(super.getOutputStream()) {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] buffer, int offset, int length) throws IOException {
        ScheduledFuture<?> guard = guard();
        try {
          out.write(buffer, offset, length);
        } catch (IOException e) {
          if (expired) {
            throw new SocketTimeoutException("client deadline passed while its reply was sent");
          }
          throw e;
        } finally {
          if (guard != null) {
            guard.cancel(false);
          }
        }
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

  /** Schedules the close that ends a write still blocked at the deadline; none once stopping. */
  private ScheduledFuture<?> guard() {
    try {
      return watchdog.schedule(this::expire, writeAllowedNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      return null; // the gateway is stopping and closes every connection itself
    }
  }

  /** How long the write starting now may block before the connection is closed. */
  private long writeAllowedNanos() {
    long left =
        hasDeadline
            ? deadline - System.nanoTime()
            : Duration.ofMillis(idleTimeout > 0 ? idleTimeout : 0).toNanos();
    return Math.max(left, WRITE_GRACE.toNanos());
  }

  /** The deadline passed with a write still blocked: the client does not read, hang up. */
  private void expire() {
    expired = true;
    try {
      close();
    } catch (IOException e) {
      // closing is all that was left to do
    }
  }

  /** Accepts {@link DeadlineSocket}s whose blocked writes {@code watchdog} ends. */
  public static final class Server extends ServerSocket {
    private final ScheduledExecutorService watchdog;

    public Server(ScheduledExecutorService watchdog) throws IOException {
      super();
      this.watchdog = watchdog;
    }

    @Override
    public Socket accept() throws IOException {
      if (isClosed()) {
        throw new SocketException("Socket is closed");
      }
      DeadlineSocket socket = new DeadlineSocket(watchdog);
      implAccept(socket);
      return socket;
    }
  }
}
