package io.github.rcptproxy.internal;

import java.util.Locale;

/**
 * One address of a batch still to be answered, and where its verdict goes.
 *
 * @param index the address's place in the batch: its verdict's slot
 * @param domain the mailbox's domain in lower case, the key of what is learnt per domain
 * @param held where VRFY answered {@code 252}: the wait for a refusal after it ({@link VrfyRun});
 *     null before
 * @param gathered whether it is one of several callers' questions taken together ({@link
 *     Gathering}): asked in one pipelined RCPT exchange with the others, not one by one with VRFY
 */
record Question(int index, Mailbox mailbox, String domain, Held252 held, boolean gathered) {
  static Question of(int index, Mailbox mailbox) {
    return new Question(index, mailbox, mailbox.domain().toLowerCase(Locale.ROOT), null, false);
  }

  Question holding(Held252 held252) {
    return new Question(index, mailbox, domain, held252, gathered);
  }

  Question gatheredWithOthers() {
    return new Question(index, mailbox, domain, held, true);
  }
}
