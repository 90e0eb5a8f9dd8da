package io.github.rcptproxy.gateway.front;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The write deadline of a client connection, on a real loopback connection: a client that reads its
 * replies costs the watchdog one scheduled check, not one per reply; one that stops reading is hung
 * up on when its write's time is up, also where an earlier check was scheduled for a later
 * deadline.
 */
class DeadlineSocketTest {
  private static final byte[] REPLY = "250 2.1.5 Ok\r\n".getBytes();

  private final ScheduledThreadPoolExecutor watchdog = new ScheduledThreadPoolExecutor(1);
  private DeadlineSocket.Server server;
  private Socket client;
  private DeadlineSocket accepted;

  @BeforeEach
  void connect() throws IOException {
    watchdog.setRemoveOnCancelPolicy(true);
    server = new DeadlineSocket.Server(watchdog);
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    client = new Socket();
    client.setReceiveBufferSize(4096);
    client.connect(server.getLocalSocketAddress());
    accepted = (DeadlineSocket) server.accept();
    accepted.setSendBufferSize(4096);
  }

  @AfterEach
  void close() throws IOException {
    client.close();
    accepted.close();
    server.close();
    watchdog.shutdownNow();
  }

  @Test
  void repliesReadInTimeScheduleOneCheckInAll() throws IOException {
    accepted.deadlineIn(Duration.ofMinutes(5));
    OutputStream out = accepted.getOutputStream();
    InputStream in = client.getInputStream();
    byte[] read = new byte[REPLY.length];
    for (int i = 0; i < 1000; i++) {
      accepted.deadlineIn(Duration.ofMinutes(5)); // as the front does per command line
      out.write(REPLY);
      assertThat(in.readNBytes(read, 0, read.length)).isEqualTo(REPLY.length);
    }
    assertThat(watchdog.getTaskCount()).isEqualTo(1);
    accepted.close();
    assertThat(watchdog.getQueue()).as("closing cancels the check").isEmpty();
  }

  /**
   * The replies to a pipelined group are written one by one: none may wait for the client's ACK of
   * the one before (Nagle's algorithm against a delayed ACK: 40 ms each on Linux).
   */
  @Test
  void repliesAreSentWithoutWaitingForTheClientsAck() throws IOException {
    assertThat(accepted.getTcpNoDelay()).isTrue();
  }

  @Test
  void aClientThatStopsReadingIsHungUpOnAtTheDeadline() throws IOException {
    hungUpAtADeadlineOf1500Ms();
  }

  /** A check scheduled for a later deadline does not hold up the one an earlier deadline needs. */
  @Test
  void anEarlierDeadlineIsCheckedAtItsOwnTime() throws IOException {
    accepted.deadlineIn(Duration.ofMinutes(5));
    accepted.getOutputStream().write(REPLY); // a check for five minutes from now
    client.getInputStream().readNBytes(REPLY.length);
    hungUpAtADeadlineOf1500Ms();
  }

  /** The 421 that reports a timeout starts after the deadline: it gets WRITE_GRACE, no more. */
  @Test
  void aWriteStartingAfterTheDeadlineGetsTheGrace() throws IOException {
    accepted.deadlineIn(Duration.ofSeconds(-5));
    assertThat(writeUntilRefused()).isBetween(Duration.ofMillis(900), Duration.ofSeconds(4));
    assertThat(accepted.expired()).isTrue();
  }

  /** Replies under deadlines that move back and forth keep one check at most, then still cut. */
  @Test
  void deadlinesMovingBackAndForthKeepOneCheck() throws IOException {
    OutputStream out = accepted.getOutputStream();
    InputStream in = client.getInputStream();
    for (int i = 0; i < 2000; i++) {
      accepted.deadlineIn(i % 2 == 0 ? Duration.ofMinutes(10) : Duration.ofMinutes(5));
      out.write(REPLY);
      assertThat(in.readNBytes(REPLY.length)).hasSize(REPLY.length);
    }
    assertThat(watchdog.getQueue()).hasSizeLessThanOrEqualTo(1);
    hungUpAtADeadlineOf1500Ms();
  }

  /**
   * Two threads writing: the second waits for the first, which the client then reads, and blocks in
   * its own write on a client that reads no more: the deadline still ends it.
   */
  @Test
  void aSecondWriterIsBoundedToo() throws Exception {
    accepted.deadlineIn(Duration.ofSeconds(3));
    OutputStream out = accepted.getOutputStream();
    byte[] big = new byte[1 << 20];
    CompletableFuture<Void> first = CompletableFuture.runAsync(() -> write(out, big));
    await().atMost(Duration.ofSeconds(5)).until(() -> watchdog.getQueue().size() == 1);
    CompletableFuture<Void> second = new CompletableFuture<>();
    Thread secondWriter =
        new Thread(
            () -> {
              try {
                out.write(big);
                second.complete(null);
              } catch (IOException e) {
                second.completeExceptionally(e);
              }
            });
    secondWriter.setDaemon(true);
    secondWriter.start();
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                secondWriter.getState() == Thread.State.BLOCKED
                    || secondWriter.getState() == Thread.State.WAITING); // behind the first
    assertThat(client.getInputStream().readNBytes(big.length)).hasSize(big.length);
    first.get();
    await()
        .atMost(Duration.ofSeconds(8))
        .untilAsserted(() -> assertThat(second).isCompletedExceptionally());
    assertThat(accepted.expired()).isTrue();
  }

  /**
   * A reply written after the connection was closed (SubEthaSMTP answers the commands it had read
   * ahead) fails and leaves no check behind holding the socket.
   */
  @Test
  void aWriteAfterCloseLeavesNoCheckBehind() throws IOException {
    accepted.deadlineIn(Duration.ofMinutes(10));
    OutputStream out = accepted.getOutputStream();
    out.write(REPLY);
    accepted.close();
    assertThatThrownBy(() -> out.write(REPLY)).isInstanceOf(IOException.class);
    assertThat(watchdog.getQueue()).isEmpty();
  }

  private static void write(OutputStream out, byte[] bytes) {
    try {
      out.write(bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** With 1.5 s left, replies the client never reads: the connection is cut at that deadline. */
  private void hungUpAtADeadlineOf1500Ms() throws IOException {
    accepted.deadlineIn(Duration.ofMillis(1500));
    assertThat(writeUntilRefused()).isBetween(Duration.ofMillis(1400), Duration.ofSeconds(5));
    assertThat(accepted.expired()).isTrue();
  }

  /** Writes replies the client never reads until a write fails: how long until then. */
  private Duration writeUntilRefused() throws IOException {
    long start = System.nanoTime();
    OutputStream out = accepted.getOutputStream();
    try {
      while (true) {
        out.write(REPLY);
      }
    } catch (SocketTimeoutException expected) {
      return Duration.ofNanos(System.nanoTime() - start);
    }
  }
}
