package io.github.rcptproxy.postfix;

import io.github.rcptproxy.Health;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.VerifierStats;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A verifier that answers from a script and records what it was asked: the seam for protocol tests
 * (as Commons Pool tests its pool with a fake factory); the real backend tests use Postfix.
 */
final class ScriptedVerifier implements RecipientVerifier {
  final List<String> asked = new CopyOnWriteArrayList<>();
  private final Function<String, Verdict> script;

  ScriptedVerifier(Function<String, Verdict> script) {
    this.script = script;
  }

  @Override
  public Verdict verify(String address) {
    asked.add(address);
    return script.apply(address);
  }

  @Override
  public CompletableFuture<Verdict> verifyAsync(String address) {
    return CompletableFuture.supplyAsync(() -> verify(address));
  }

  @Override
  public List<Verdict> verifyAll(List<String> addresses) {
    return addresses.stream().map(this::verify).toList();
  }

  @Override
  public CompletableFuture<List<Verdict>> verifyAllAsync(List<String> addresses) {
    return CompletableFuture.supplyAsync(() -> verifyAll(addresses));
  }

  @Override
  public void reconfigure(VerifierConfig config) {
    throw new UnsupportedOperationException();
  }

  @Override
  public void invalidate(String address) {}

  @Override
  public void invalidateAll() {}

  @Override
  public Health health() {
    throw new UnsupportedOperationException();
  }

  @Override
  public VerifierConfig config() {
    throw new UnsupportedOperationException();
  }

  @Override
  public VerifierStats stats() {
    throw new UnsupportedOperationException();
  }

  @Override
  public void close() {}
}
