package io.github.rcptproxy.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * Marks a test class that starts real servers (Postfix, Dovecot, Exim, OpenSMTPD, Postfix's
 * smtp-sink, openssl): tagged {@code real-servers}, so {@code mvn verify
 * -DexcludedGroups=real-servers} runs the rest alone. Without a server these tests are skipped with
 * the reason ({@link SkippedSummary} lists them); under {@code CI=true} they fail.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("real-servers")
public @interface RealServers {}
