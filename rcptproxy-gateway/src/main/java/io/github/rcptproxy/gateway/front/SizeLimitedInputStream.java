package io.github.rcptproxy.gateway.front;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.subethamail.smtp.TooMuchDataException;

/** Reads at most a given number of bytes; one more is a {@link TooMuchDataException}. */
public final class SizeLimitedInputStream extends FilterInputStream {
  private final long limit;
  private long count;

  public SizeLimitedInputStream(InputStream in, long limit) {
    super(in);
    this.limit = limit;
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b >= 0) {
      counted(1);
    }
    return b;
  }

  @Override
  public int read(byte[] buffer, int offset, int length) throws IOException {
    int n = super.read(buffer, offset, length);
    if (n > 0) {
      counted(n);
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long skipped = super.skip(n);
    if (skipped > 0) {
      counted(skipped); // skipped bytes are read too: a skip must not pass the limit unseen
    }
    return skipped;
  }

  @Override
  public boolean markSupported() {
    return false;
  }

  private void counted(long n) throws TooMuchDataException {
    count += n;
    if (count > limit) {
      throw new TooMuchDataException("message larger than " + limit + " bytes");
    }
  }
}
