import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;

/**
 * Exits 0 once the broker at args[0] can serve consumer groups: fetching a group's offsets needs
 * FindCoordinator to succeed, which only happens after __consumer_offsets exists and is loaded.
 * An open port alone is not enough for kafkajs consumers. Retries until args[1] seconds have passed.
 */
public class KafkaReady {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("request.timeout.ms", "5000");
    props.put("default.api.timeout.ms", "10000");
    long deadline = System.currentTimeMillis() + Long.parseLong(args[1]) * 1000L;
    String last = "no attempt";
    while (System.currentTimeMillis() < deadline) {
      try (Admin admin = Admin.create(props)) {
        admin.listConsumerGroupOffsets("klaxon-readiness").partitionsToOffsetAndMetadata().get();
        System.out.println("kafka: consumer group coordinator available at " + args[0]);
        return;
      } catch (Exception e) {
        last = e.toString();
      }
      Thread.sleep(500);
    }
    System.err.println("kafka: no consumer group coordinator at " + args[0] + ": " + last);
    System.exit(1);
  }
}
