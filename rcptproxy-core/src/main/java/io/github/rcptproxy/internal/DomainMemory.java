package io.github.rcptproxy.internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What was learnt per domain, bounded: clients name any domain they like, so the least recently
 * used entries are forgotten past {@value #MAX_DOMAINS}. Thread-safe; the lock is held only for the
 * map operation.
 */
public final class DomainMemory<V> {
  static final int MAX_DOMAINS = 10_000;

  private final Map<String, V> map =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
          return size() > MAX_DOMAINS;
        }
      };

  public synchronized V get(String domain) {
    return map.get(domain);
  }

  public synchronized void put(String domain, V value) {
    map.put(domain, value);
  }

  synchronized void remove(String domain) {
    map.remove(domain);
  }

  synchronized int size() {
    return map.size();
  }
}
