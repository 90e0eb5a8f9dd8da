package io.github.rcptproxy.testing;

/**
 * A real Postfix that serves only clients that authenticated against a real Dovecot of its own, and
 * only over TLS ({@link DovecotBackend#postfixRequiringAuth}): {@code encrypt} requires STARTTLS,
 * {@code may} offers it. Users and password are {@link DovecotBackend}'s; the certificate is {@link
 * TestCertificates#shared()}'s. {@link #close()} stops both servers.
 */
public final class AuthenticatingPostfix implements AutoCloseable {
  private final DovecotBackend dovecot;
  private final PostfixBackend postfix;

  private AuthenticatingPostfix(DovecotBackend dovecot, PostfixBackend postfix) {
    this.dovecot = dovecot;
    this.postfix = postfix;
  }

  /** Starts Dovecot, then Postfix; skips (or, under CI, fails) the test without either. */
  public static AuthenticatingPostfix start(String tlsLevel) {
    DovecotBackend dovecot = DovecotBackend.start();
    try {
      return new AuthenticatingPostfix(
          dovecot,
          PostfixBackend.start(dovecot.postfixRequiringAuth(TestCertificates.shared(), tlsLevel)));
    } catch (RuntimeException | Error e) {
      dovecot.close();
      throw e;
    }
  }

  /** Postfix's SMTP port on the loopback address. */
  public int port() {
    return postfix.port();
  }

  public PostfixBackend postfix() {
    return postfix;
  }

  public DovecotBackend dovecot() {
    return dovecot;
  }

  @Override
  public void close() {
    try {
      postfix.close();
    } finally {
      dovecot.close();
    }
  }
}
