package dev.jobsvc.worker;

import dev.jobsvc.v1.AckServiceGrpc;
import dev.jobsvc.v1.WorkRequest;
import dev.jobsvc.v1.WorkResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall.SimpleForwardingClientCall;
import io.grpc.ForwardingClientCallListener.SimpleForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Counts the messages of Work streams by kind, both ways (batch items counted by their kind too). */
final class WorkTraffic implements ClientInterceptor {

  final Map<String, AtomicLong> sent = new ConcurrentHashMap<>();
  final Map<String, AtomicLong> received = new ConcurrentHashMap<>();

  long sent(String kind) {
    return sent.getOrDefault(kind, new AtomicLong()).get();
  }

  long received(String kind) {
    return received.getOrDefault(kind, new AtomicLong()).get();
  }

  private static void count(Map<String, AtomicLong> counts, String kind) {
    counts.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    ClientCall<Q, R> call = next.newCall(method, options);
    if (!method.getFullMethodName().equals(AckServiceGrpc.getWorkMethod().getFullMethodName())) {
      return call;
    }
    return new SimpleForwardingClientCall<>(call) {
      @Override
      public void sendMessage(Q message) {
        WorkRequest request = (WorkRequest) message;
        count(sent, request.getKindCase().name());
        for (WorkRequest.Batch.Item item : request.getBatch().getItemsList()) {
          count(sent, "item:" + item.getKindCase().name());
        }
        super.sendMessage(message);
      }

      @Override
      public void start(Listener<R> listener, Metadata headers) {
        super.start(
            new SimpleForwardingClientCallListener<>(listener) {
              @Override
              public void onMessage(R message) {
                count(received, ((WorkResponse) message).getKindCase().name());
                super.onMessage(message);
              }
            },
            headers);
      }
    };
  }
}
