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
 * <p>A read is bounded by a socket timeout of what is left. A write must end by the deadline (or,
 * for a write that starts when less than {@link #WRITE_GRACE} is left, such as the {@code 421} that
 * reports the timeout, that grace from now): one check on the watchdog, scheduled for the earliest
 * such end, closes the connection if a write is still under way past its end, and otherwise comes
 * back for the end of the write under way, if any. A write schedules nothing where a check already
 * comes by its end, so a connection costs the watchdog one wake-up per deadline, not two queue
 * operations and a wake-up per reply (measured: half a wake-up per RCPT at 20 clients). A client
 * that reads its replies never has a write block.
 */
public final class DeadlineSocket extends Socket {
  /** What a write that starts at or after the deadline still gets. */
  static final Duration WRITE_GRACE = Duration.ofSeconds(1);

  private static final long NOT_WRITING = Long.MIN_VALUE;

  private final ScheduledExecutorService watchdog;
  private volatile long deadline = Long.MAX_VALUE;
  private volatile boolean hasDeadline;
  private volatile int idleTimeout;
  private volatile boolean expired;

  /** When the write under way must have ended (nanoTime); {@link #NOT_WRITING} between writes. */
  private volatile long writeEndsBy = NOT_WRITING;

  /** One write at a time, so that {@link #writeEndsBy} is the end of the one under way. */
  private final Object writing = new Object();

  /** The one check scheduled on the watchdog, and when it runs (nanoTime); guarded by this. */
  private ScheduledFuture<?> check;

  private long checkAt;

  /**
   * Closed: no check is scheduled any more (a reply still written after fails). Guarded by this.
   */
  private boolean closed;

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
        synchronized (writing) {
          long endsBy = System.nanoTime() + writeAllowedNanos();
          writeEndsBy = endsBy;
          checkBy(endsBy);
          try {
            out.write(buffer, offset, length);
          } catch (IOException e) {
            if (expired) {
              throw new SocketTimeoutException("client deadline passed while its reply was sent");
            }
            throw e;
          } finally {
            writeEndsBy = NOT_WRITING;
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

  /**
   * Makes sure a check runs by {@code endsBy}: the one scheduled already if it comes by then, else
   * one scheduled for then in its place. None once closed (the write fails), nor once the gateway
   * is stopping (it closes every connection itself).
   */
  private synchronized void checkBy(long endsBy) {
    if (closed || check != null && checkAt - endsBy <= 0) {
      return;
    }
    if (check != null) {
      check.cancel(false);
    }
    try {
      long at = endsBy;
      check = watchdog.schedule(() -> check(at), endsBy - System.nanoTime(), TimeUnit.NANOSECONDS);
      checkAt = at;
    } catch (RejectedExecutionException e) {
      check = null;
    }
  }

  /**
   * The check scheduled for {@code at}: a write still under way past its end closes the connection;
   * one under way within its end is checked again then; none, and the next write schedules.
   */
  private void check(long at) {
    synchronized (this) {
      if (check == null || checkAt != at) {
        return; // replaced by an earlier check, or the socket closed
      }
      check = null;
    }
    long endsBy = writeEndsBy;
    if (endsBy == NOT_WRITING) {
      return;
    }
    if (System.nanoTime() - endsBy >= 0) {
      expire();
    } else {
      checkBy(endsBy);
    }
  }

  /** Closes the connection, and with it the check of its writes. */
  @Override
  public void close() throws IOException {
    synchronized (this) {
      closed = true;
      if (check != null) {
        check.cancel(false);
        check = null;
      }
    }
    super.close();
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

  /**
   * Accepts {@link DeadlineSocket}s whose blocked writes {@code watchdog} ends, each sending its
   * writes without delay ({@code TCP_NODELAY}).
   */
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
      // Each reply goes out at once: the front writes the replies to a pipelined group one by one,
      // and with Nagle's algorithm the second waited for the client's delayed ACK of the first
      // (measured: 42 ms for a MAIL and its RCPTs sent at once, against 0.5 ms from Postfix).
      try {
        socket.setTcpNoDelay(true);
      } catch (SocketException gone) {
        // reset already: its session finds the connection closed, and accepting goes on
      }
      return socket;
    }
  }
}
