package io.github.rcptproxy.gateway.relay;

import io.github.rcptproxy.internal.smtp.SmtpConnection;
import java.io.IOException;

/**
 * One pooled connection to the backend and what it has taken: a backend counts abandoned
 * transactions ({@code RSET}: Postfix's junk commands, Exim's non-mail commands) and refused
 * recipients (Postfix's errors, which it then answers slowly) per connection, so one that has taken
 * {@link #WORN} of either is closed rather than reused, before those counts cost anyone time.
 */
final class RelayConnection {
  /**
   * Abandoned transactions, or refused recipients, a connection takes before it is closed: below
   * where Exim's {@code smtp_accept_max_nonmail} (10) and Postfix's {@code smtpd_soft_error_limit}
   * (10) begin to count against it.
   */
  static final int WORN = 5;

  final SmtpConnection smtp;
  private boolean broken;
  private boolean resetDue;
  private int abandoned;
  private int refused;

  RelayConnection(SmtpConnection smtp) {
    this.smtp = smtp;
  }

  /** Whether the next transaction must start with {@code RSET}: the last one was abandoned. */
  boolean resetDue() {
    return resetDue;
  }

  /** The transaction was left before its end of data (a question, or a refused recipient). */
  void abandoned(int refusedRecipients) {
    resetDue = true;
    abandoned++;
    refused += refusedRecipients;
  }

  /** The transaction ended with the backend's reply to its end of data. */
  void completed() {
    resetDue = false;
  }

  /** Its state is unknown (a failure or a timeout in the middle of an exchange): close it. */
  void broken() {
    broken = true;
  }

  boolean reusable() {
    return !broken && abandoned < WORN && refused < WORN;
  }

  boolean unaskedInput() {
    try {
      return smtp.unaskedInput();
    } catch (IOException e) {
      return true;
    }
  }

  /**
   * A connection in a known state says QUIT first; a broken one is only closed (QUIT could block).
   */
  void close() {
    if (!broken) {
      smtp.quit();
    }
    smtp.close();
  }
}
