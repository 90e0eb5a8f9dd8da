package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What is learnt per domain is bounded: the oldest domains are forgotten first. */
class DomainMemoryTest {

  @Test
  void perDomainMemoryIsBounded() {
    DomainMemory<Boolean> memory = new DomainMemory<>();
    for (int i = 0; i < DomainMemory.MAX_DOMAINS + 500; i++) {
      memory.put("d" + i + ".example", true);
    }
    assertThat(memory.size()).isEqualTo(DomainMemory.MAX_DOMAINS);
    assertThat(memory.get("d0.example")).isNull();
  }
}
