/** Recipient verification for SubEthaSMTP servers. */
package io.github.rcptproxy.subethasmtp;
