package io.github.rcptproxy.internal;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The {@code 252}s one session answered that no refusal has confirmed yet. A refusal of VRFY on the
 * same session after them, in their domain (a random local part, or simply the next caller's
 * unknown address), shows that the backend told addresses apart then: it confirms them all. A
 * {@code 252} to the random local part, a {@code 4xx}, a hang-up or a failure confirms none. So one
 * random VRFY, or none, settles a run of {@code 252}s instead of one each.
 */
final class VrfyRun {
  private final List<Held252> held = new ArrayList<>();

  synchronized void add(Held252 h) {
    held.add(h);
  }

  /** How many {@code 252}s of the domain the run holds (given up ones too: they bound the run). */
  synchronized int size(String domain) {
    int n = 0;
    for (Held252 h : held) {
      n += h.domain().equals(domain) ? 1 : 0;
    }
    return n;
  }

  /** The domains the run holds {@code 252}s in. */
  synchronized Set<String> domains() {
    Set<String> domains = new TreeSet<>();
    for (Held252 h : held) {
      domains.add(h.domain());
    }
    return domains;
  }

  /** The age of the oldest {@code 252} of the domain, in nanoseconds; 0 if none. */
  synchronized long oldestNanos(String domain) {
    long oldest = 0;
    for (Held252 h : held) {
      if (h.domain().equals(domain)) {
        oldest = Math.max(oldest, h.ageNanos());
      }
    }
    return oldest;
  }

  /** The session showed whether the domain's {@code 252}s were about the mailboxes. */
  synchronized void settle(String domain, boolean confirmed) {
    for (Iterator<Held252> it = held.iterator(); it.hasNext(); ) {
      Held252 h = it.next();
      if (h.domain().equals(domain)) {
        h.settle(confirmed);
        it.remove();
      }
    }
  }

  /** The session failed or closed: nothing more can confirm what it holds. */
  synchronized void settleNone() {
    for (Held252 h : held) {
      h.settle(false);
    }
    held.clear();
  }
}
