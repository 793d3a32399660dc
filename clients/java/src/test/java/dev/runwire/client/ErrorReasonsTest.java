package dev.runwire.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.ErrorInfo;
import dev.runwire.v1.ErrorReason;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** Without a server: the reason constants, isResumable, the backoff, request ids. */
class ErrorReasonsTest {
  @Test
  void reasonsAreTheValuesOfTheErrorReasonEnum() throws IllegalAccessException {
    Set<String> enumNames = new TreeSet<>();
    for (ErrorReason value : ErrorReason.values()) {
      if (value != ErrorReason.UNRECOGNIZED && value != ErrorReason.ERROR_REASON_UNSPECIFIED) {
        enumNames.add(value.name());
      }
    }
    assertTrue(enumNames.size() >= 40, "only " + enumNames.size() + " ErrorReason values");
    Map<String, String> java = new TreeMap<>(); // value -> field name
    for (Field field : ErrorReasons.class.getFields()) {
      if (Modifier.isStatic(field.getModifiers()) && field.getType() == String.class) {
        java.put((String) field.get(null), field.getName());
      }
    }
    assertEquals(enumNames, java.keySet());
    for (Map.Entry<String, String> e : java.entrySet()) {
      assertEquals(e.getKey(), e.getValue());
      assertEquals(ErrorReason.valueOf(e.getKey()), ErrorReasons.toEnum(e.getKey()));
    }
  }

  @Test
  void toEnumMapsTheWireReason() {
    assertEquals(ErrorReason.AGENT_NOT_FOUND, ErrorReasons.toEnum("AGENT_NOT_FOUND"));
    assertEquals(ErrorReason.DRAINING, ErrorReasons.toEnum(ErrorReasons.DRAINING));
    assertEquals(ErrorReason.ERROR_REASON_UNSPECIFIED, ErrorReasons.toEnum(""));
    assertEquals(ErrorReason.ERROR_REASON_UNSPECIFIED, ErrorReasons.toEnum(null));
    assertEquals(ErrorReason.ERROR_REASON_UNSPECIFIED, ErrorReasons.toEnum("A_REASON_OF_A_NEWER_SERVER"));
    assertEquals(ErrorReason.ERROR_REASON_UNSPECIFIED, ErrorReasons.toEnum("UNRECOGNIZED"));
    RunwireException gone = error(Status.Code.NOT_FOUND, ErrorReasons.RUN_NOT_FOUND);
    assertEquals(ErrorReason.RUN_NOT_FOUND, ErrorReasons.toEnum(gone.reason()));
  }

  private static RunwireException error(Status.Code code, String reason) {
    com.google.rpc.Status.Builder rich =
        com.google.rpc.Status.newBuilder().setCode(code.value()).setMessage("x");
    if (reason != null) {
      rich.addDetails(Any.pack(ErrorInfo.newBuilder().setReason(reason).setDomain("runwire.dev").build()));
    }
    return RunwireException.from(StatusProto.toStatusRuntimeException(rich.build(), new Metadata()));
  }

  @Test
  void resumableIsUnavailableWithDrainingOrWithoutErrorInfo() {
    assertTrue(ReconnectPolicy.isResumable(error(Status.Code.UNAVAILABLE, ErrorReasons.DRAINING)));
    assertTrue(ReconnectPolicy.isResumable(error(Status.Code.UNAVAILABLE, null)));
    assertFalse(
        ReconnectPolicy.isResumable(error(Status.Code.UNAVAILABLE, ErrorReasons.RUNTIME_UNAVAILABLE)));
    assertFalse(ReconnectPolicy.isResumable(error(Status.Code.INTERNAL, null)));
    assertFalse(ReconnectPolicy.isResumable(error(Status.Code.CANCELLED, null)));
    RunwireException drained = error(Status.Code.UNAVAILABLE, ErrorReasons.DRAINING);
    assertTrue(drained.is(Status.Code.UNAVAILABLE, "DRAINING"));
  }

  @Test
  void backoffDoublesUpToTheMaximumWithJitter() {
    ReconnectPolicy policy = ReconnectPolicy.DEFAULT.withBackoff(Duration.ofMillis(100), Duration.ofMillis(1000));
    long[] nominal = {100, 200, 400, 800, 1000, 1000};
    for (int attempt = 1; attempt <= nominal.length; attempt++) {
      for (int i = 0; i < 20; i++) {
        long wait = policy.backoff(attempt).toMillis();
        long n = nominal[attempt - 1];
        assertTrue(wait >= n / 2 && wait <= n, "attempt " + attempt + ": " + wait + " ms");
      }
    }
    assertEquals(0, ReconnectPolicy.NEVER.maxResumes());
    assertEquals(8, ReconnectPolicy.DEFAULT.maxResumes());
  }

  @Test
  void requestIdsAreDistinctVersion4Uuids() {
    java.util.Set<String> ids = new java.util.HashSet<>();
    for (int i = 0; i < 100; i++) {
      String id = RunwireClient.newRequestId();
      assertTrue(
          id.matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"), id);
      ids.add(id);
    }
    assertEquals(100, ids.size());
  }
}
