package io.github.rcptproxy.subethasmtp;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.MessageHandlerFactory;

/** The user's own handler: records what it is told. */
final class RecordingHandlerFactory implements MessageHandlerFactory {
  final List<String> senders = new CopyOnWriteArrayList<>();
  final List<String> recipients = new CopyOnWriteArrayList<>();
  final List<byte[]> messages = new CopyOnWriteArrayList<>();

  @Override
  public MessageHandler create(MessageContext context) {
    return new MessageHandler() {
      @Override
      public void from(String from) {
        senders.add(from);
      }

      @Override
      public void recipient(String recipient) {
        recipients.add(recipient);
      }

      @Override
      public String data(InputStream data) throws IOException {
        messages.add(data.readAllBytes());
        return null;
      }

      @Override
      public void done() {}
    };
  }
}
