package io.github.rcptproxy.internal;

import java.util.Optional;

/**
 * Addresses the backend accepted lately: the control question for a refusal that does not say what
 * it is about. One per domain (bounded), and the last one of any domain for a domain without its
 * own. Kept across reconfiguration: an address the new backend refuses makes its refusals
 * unverified (never rejected), and every address it accepts replaces it. Never {@code postmaster}:
 * sites exempt it from the very checks (sender verification, ratio rules) whose refusals the
 * control must tell apart.
 */
public final class KnownGood {
  private final DomainMemory<Mailbox> byDomain = new DomainMemory<>();
  private volatile Mailbox last;

  /** The backend accepted this address; an address that needs SMTPUTF8 cannot serve as control. */
  void accepted(String domain, Mailbox mailbox) {
    if (!mailbox.needsSmtputf8()) {
      byDomain.put(domain, mailbox);
      last = mailbox;
    }
  }

  /** The control for a refusal in the domain, if the backend has accepted any address yet. */
  Optional<Mailbox> control(String domain) {
    Mailbox mailbox = byDomain.get(domain);
    return Optional.ofNullable(mailbox != null ? mailbox : last);
  }
}
