package io.github.rcptproxy;

import java.io.Serializable;
import java.util.Objects;

/**
 * A reply from the backend, sanitised: the lines of a multi-line reply are joined with a space, and
 * any control character is replaced by {@code ?}, so the text is safe to log or show.
 *
 * @param code the three-digit SMTP reply code
 * @param enhancedStatus the RFC 3463 enhanced status code such as {@code 5.1.1}, or empty
 * @param text the reply text without code and enhanced status code
 */
public record BackendReply(int code, String enhancedStatus, String text) implements Serializable {

  public BackendReply {
    if (code < 200 || code > 599) {
      throw new IllegalArgumentException("code must be within 200..599, was " + code);
    }
    Objects.requireNonNull(enhancedStatus, "enhancedStatus");
    Objects.requireNonNull(text, "text");
  }

  public boolean isPositive() {
    return code < 400;
  }

  public boolean isTransientNegative() {
    return code >= 400 && code < 500;
  }

  public boolean isPermanentNegative() {
    return code >= 500;
  }

  /** The reply as the backend would have written it on one line, for logs. */
  @Override
  public String toString() {
    StringBuilder line = new StringBuilder().append(code);
    if (!enhancedStatus.isEmpty()) {
      line.append(' ').append(enhancedStatus);
    }
    if (!text.isEmpty()) {
      line.append(' ').append(text);
    }
    return line.toString();
  }
}
