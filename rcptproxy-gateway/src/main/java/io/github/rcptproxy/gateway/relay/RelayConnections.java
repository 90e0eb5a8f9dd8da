package io.github.rcptproxy.gateway.relay;

import io.github.rcptproxy.internal.smtp.SmtpConnection;
import io.github.rcptproxy.internal.smtp.SmtpReply;
import java.io.IOException;
import java.time.Duration;
import java.util.NoSuchElementException;
import org.apache.commons.pool2.BasePooledObjectFactory;
import org.apache.commons.pool2.PooledObject;
import org.apache.commons.pool2.impl.DefaultPooledObject;
import org.apache.commons.pool2.impl.GenericObjectPool;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import org.subethamail.smtp.RejectException;

/**
 * The relay's connections to the backend, apart from the verifier's sessions: at most {@code max}
 * at once, each greeted, secured and authenticated once and then reused for message after message,
 * as Postfix's smtp client reuses a cached connection. A connection goes back with {@code RSET}
 * answered {@code 250}; one the backend ended, or one idle longer than {@link #IDLE}, is closed.
 * When all are busy a borrower waits, as long as it says.
 */
final class RelayConnections implements AutoCloseable {
  /**
   * How long an idle connection is kept: well inside every backend's idle timeout (Postfix and
   * Exim: 5 minutes), long enough to carry a burst of messages.
   */
  static final Duration IDLE = Duration.ofSeconds(10);

  /** Opens a connection ready for {@code MAIL}, or refuses the message with why it cannot. */
  @FunctionalInterface
  interface Opener {
    SmtpConnection open() throws IOException, RejectException;
  }

  private final GenericObjectPool<SmtpConnection> pool;

  RelayConnections(Opener opener, int max) {
    GenericObjectPoolConfig<SmtpConnection> config = new GenericObjectPoolConfig<>();
    config.setMaxTotal(max);
    config.setMaxIdle(max);
    config.setMinIdle(0);
    config.setBlockWhenExhausted(true);
    config.setLifo(true); // the warmest connection; the others expire when load drops
    config.setTestOnBorrow(true); // nothing unasked waiting (an idle timeout's 421)
    config.setJmxEnabled(false);
    config.setMinEvictableIdleDuration(IDLE);
    config.setTimeBetweenEvictionRuns(IDLE.dividedBy(2));
    config.setNumTestsPerEvictionRun(max);
    pool = new GenericObjectPool<>(new Factory(opener), config);
  }

  /**
   * A connection ready for {@code MAIL}.
   *
   * @throws RejectException the backend cannot be reached or refused the gateway ({@code 451}), or
   *     every connection stayed busy for the whole {@code wait} ({@code 451 4.4.5})
   */
  SmtpConnection borrow(Duration wait) throws IOException, RejectException {
    try {
      return pool.borrowObject(wait);
    } catch (NoSuchElementException e) {
      if (e.getCause() instanceof Exception cause) {
        throw rethrow(cause); // the connection could not be made
      }
      throw new RejectException(451, "4.4.5 Mail system congested, try again later");
    } catch (Exception e) {
      throw rethrow(e);
    }
  }

  /**
   * Gives a connection back: kept if its transaction ended cleanly and it takes {@code RSET},
   * closed otherwise.
   */
  void release(SmtpConnection connection, boolean reusable) {
    try {
      if (reusable) {
        pool.returnObject(connection);
      } else {
        pool.invalidateObject(connection);
      }
    } catch (Exception e) {
      // closed by the pool either way
    }
  }

  /** Closes the idle connections: one of them was found ended by the backend. */
  void dropIdle() {
    pool.clear();
  }

  int active() {
    return pool.getNumActive();
  }

  @Override
  public void close() {
    pool.close(); // idle ones now; busy ones when they come back
  }

  private static IOException rethrow(Exception e) throws RejectException {
    if (e instanceof RejectException reject) {
      throw reject;
    }
    if (e instanceof IOException io) {
      return io;
    }
    if (e instanceof RuntimeException runtime) {
      throw runtime;
    }
    return new IOException(e);
  }

  private static final class Factory extends BasePooledObjectFactory<SmtpConnection> {
    private final Opener opener;

    Factory(Opener opener) {
      this.opener = opener;
    }

    @Override
    public SmtpConnection create() throws IOException, RejectException {
      return opener.open();
    }

    @Override
    public PooledObject<SmtpConnection> wrap(SmtpConnection connection) {
      return new DefaultPooledObject<>(connection);
    }

    @Override
    public boolean validateObject(PooledObject<SmtpConnection> pooled) {
      try {
        return !pooled.getObject().unaskedInput();
      } catch (IOException e) {
        return false;
      }
    }

    /** Ends whatever transaction is open: the connection goes back clean or not at all. */
    @Override
    public void passivateObject(PooledObject<SmtpConnection> pooled) throws IOException {
      SmtpReply reset = pooled.getObject().send("RSET");
      if (reset.code() != 250) {
        throw new IOException("backend answered RSET with " + reset);
      }
    }

    @Override
    public void destroyObject(PooledObject<SmtpConnection> pooled) {
      SmtpConnection connection = pooled.getObject();
      connection.quit();
      connection.close();
    }
  }
}
