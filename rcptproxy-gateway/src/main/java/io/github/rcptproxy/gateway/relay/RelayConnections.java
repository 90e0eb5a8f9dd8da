package io.github.rcptproxy.gateway.relay;

import io.github.rcptproxy.internal.smtp.SmtpConnection;
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
 * as Postfix's smtp client reuses a cached connection. Nothing is sent when a connection goes back:
 * one whose transaction was abandoned gets its {@code RSET} in front of the next use's commands, in
 * the same pipeline, so no client waits for it. One idle longer than {@link #IDLE}, one the backend
 * ended, and one that has taken {@link RelayConnection#WORN} is closed. When all are busy a
 * borrower waits, as long as it says.
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

  private final GenericObjectPool<RelayConnection> pool;

  RelayConnections(Opener opener, int max) {
    GenericObjectPoolConfig<RelayConnection> config = new GenericObjectPoolConfig<>();
    config.setMaxTotal(max);
    config.setMaxIdle(max);
    config.setMinIdle(0);
    config.setBlockWhenExhausted(true);
    config.setLifo(true); // the warmest connection; the others expire when load drops
    config.setTestOnBorrow(true); // nothing unasked waiting (an idle timeout's 421)
    config.setTestOnReturn(true); // a worn or broken one is closed
    config.setJmxEnabled(false);
    config.setMinEvictableIdleDuration(IDLE);
    config.setTimeBetweenEvictionRuns(IDLE.dividedBy(2));
    config.setNumTestsPerEvictionRun(max);
    pool = new GenericObjectPool<>(new Factory(opener), config);
  }

  /**
   * A connection ready for a transaction.
   *
   * @throws RejectException the backend cannot be reached or refused the gateway ({@code 451}), or
   *     every connection stayed busy for the whole {@code wait} ({@code 451 4.4.5})
   */
  RelayConnection borrow(Duration wait) throws IOException, RejectException {
    try {
      return pool.borrowObject(wait);
    } catch (NoSuchElementException e) {
      if (e.getCause() instanceof Exception cause) {
        throw rethrow(cause); // the connection could not be made
      }
      throw new RejectException(451, "4.4.5 Mail system congested, try again later");
    } catch (IllegalStateException e) {
      throw new IOException("the relay was replaced by a reload", e); // its pool is closed
    } catch (Exception e) {
      throw rethrow(e);
    }
  }

  /** Gives a connection back: kept if it is {@link RelayConnection#reusable}, closed otherwise. */
  void release(RelayConnection connection) {
    try {
      if (connection.reusable()) {
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

  private static final class Factory extends BasePooledObjectFactory<RelayConnection> {
    private final Opener opener;

    Factory(Opener opener) {
      this.opener = opener;
    }

    @Override
    public RelayConnection create() throws IOException, RejectException {
      return new RelayConnection(opener.open());
    }

    @Override
    public PooledObject<RelayConnection> wrap(RelayConnection connection) {
      return new DefaultPooledObject<>(connection);
    }

    @Override
    public boolean validateObject(PooledObject<RelayConnection> pooled) {
      return pooled.getObject().reusable() && !pooled.getObject().unaskedInput();
    }

    @Override
    public void destroyObject(PooledObject<RelayConnection> pooled) {
      pooled.getObject().close();
    }
  }
}
