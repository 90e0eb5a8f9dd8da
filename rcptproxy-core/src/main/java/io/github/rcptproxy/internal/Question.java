package io.github.rcptproxy.internal;

import java.util.Locale;

/**
 * One address of a batch still to be answered, and where its verdict goes.
 *
 * @param index the address's place in the batch: its verdict's slot
 * @param domain the mailbox's domain in lower case, the key of what is learnt per domain
 */
record Question(int index, Mailbox mailbox, String domain) {
  static Question of(int index, Mailbox mailbox) {
    return new Question(index, mailbox, mailbox.domain().toLowerCase(Locale.ROOT));
  }
}
