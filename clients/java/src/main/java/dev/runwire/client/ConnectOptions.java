package dev.runwire.client;

import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.CompositeChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * How to reach a Runwire server: TLS (a CA file to trust, a client certificate for mutual TLS, a
 * server name override) and a bearer token sent as {@code authorization: Bearer <token>} on every
 * call, unary and streaming.
 *
 * <p>{@link #fromEnv()} reads the variables every Runwire client reads: {@value #ENV_TOKEN},
 * {@value #ENV_CA_FILE}, {@value #ENV_CLIENT_CERT_FILE}, {@value #ENV_CLIENT_KEY_FILE} and {@value
 * #ENV_TLS_SERVER_NAME}; {@link RunwireClient#connect(String)} uses it. Without a CA file, a client
 * certificate or {@code tls(true)} the connection is plaintext (a server on loopback or a Unix
 * socket); a token is then sent in clear, so use one without TLS only there.
 *
 * <pre>{@code
 * ConnectOptions options = ConnectOptions.builder()
 *     .token(System.getenv("MY_KEY"))
 *     .caFile(Path.of("ca.pem"))
 *     .clientCertificate(Path.of("client.pem"), Path.of("client-key.pem"))
 *     .build();
 * try (RunwireClient client = RunwireClient.connect("runwire.internal:50051", options)) { ... }
 * }</pre>
 *
 * <p>Immutable.
 */
public final class ConnectOptions {
  /** The bearer token (an API key or a JWT). */
  public static final String ENV_TOKEN = "RUNWIRE_TOKEN";
  /** A PEM CA bundle to trust; setting it turns TLS on. */
  public static final String ENV_CA_FILE = "RUNWIRE_CA_FILE";
  /** A PEM client certificate (mutual TLS). */
  public static final String ENV_CLIENT_CERT_FILE = "RUNWIRE_CLIENT_CERT_FILE";
  /** The PEM private key of the client certificate. */
  public static final String ENV_CLIENT_KEY_FILE = "RUNWIRE_CLIENT_KEY_FILE";
  /** The name checked in the server's certificate instead of the target's host. */
  public static final String ENV_TLS_SERVER_NAME = "RUNWIRE_TLS_SERVER_NAME";

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String token;
  private final Path caFile;
  private final Path clientCertFile;
  private final Path clientKeyFile;
  private final String serverName;
  private final Boolean tlsSetting; // as set on the builder; null: implied by the files
  private final boolean tls;

  private ConnectOptions(Builder b) {
    if ((b.clientCertFile == null) != (b.clientKeyFile == null)) {
      throw new IllegalArgumentException(
          "a client certificate needs both its certificate and its key file");
    }
    this.token = b.token;
    this.caFile = b.caFile;
    this.clientCertFile = b.clientCertFile;
    this.clientKeyFile = b.clientKeyFile;
    this.serverName = b.serverName;
    this.tlsSetting = b.tls;
    this.tls = b.tls != null ? b.tls : caFile != null || clientCertFile != null;
    if (clientCertFile != null && !tls) {
      throw new IllegalArgumentException("a client certificate needs TLS");
    }
  }

  /** Plaintext, no token: what {@code builder().build()} gives. */
  public static ConnectOptions plaintext() {
    return builder().build();
  }

  /** The settings of the process environment (see the class comment). */
  public static ConnectOptions fromEnv() {
    return fromEnv(System.getenv());
  }

  /**
   * The settings of {@code env}: {@value #ENV_TOKEN}, {@value #ENV_CA_FILE}, {@value
   * #ENV_CLIENT_CERT_FILE}, {@value #ENV_CLIENT_KEY_FILE}, {@value #ENV_TLS_SERVER_NAME}; unset or
   * empty variables are left out.
   *
   * @throws IllegalArgumentException a client certificate without its key, or the reverse
   */
  public static ConnectOptions fromEnv(Map<String, String> env) {
    Builder b = builder().token(env.getOrDefault(ENV_TOKEN, "").strip());
    String ca = env.getOrDefault(ENV_CA_FILE, "");
    if (!ca.isEmpty()) {
      b.caFile(Path.of(ca));
    }
    String cert = env.getOrDefault(ENV_CLIENT_CERT_FILE, "");
    String key = env.getOrDefault(ENV_CLIENT_KEY_FILE, "");
    b.clientCertFile = cert.isEmpty() ? null : Path.of(cert);
    b.clientKeyFile = key.isEmpty() ? null : Path.of(key);
    return b.serverName(env.getOrDefault(ENV_TLS_SERVER_NAME, "")).build();
  }

  /** A builder of plaintext options without a token. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these options (to override one setting of {@link #fromEnv()}). */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.token = token;
    b.caFile = caFile;
    b.clientCertFile = clientCertFile;
    b.clientKeyFile = clientKeyFile;
    b.serverName = serverName;
    b.tls = tlsSetting;
    return b;
  }

  /** The bearer token; "" sends none. */
  public String token() {
    return token;
  }

  /** The PEM CA bundle to trust; empty: the JDK's default roots (with TLS). */
  public Optional<Path> caFile() {
    return Optional.ofNullable(caFile);
  }

  /** The PEM client certificate (mutual TLS). */
  public Optional<Path> clientCertFile() {
    return Optional.ofNullable(clientCertFile);
  }

  /** The PEM private key of the client certificate. */
  public Optional<Path> clientKeyFile() {
    return Optional.ofNullable(clientKeyFile);
  }

  /** The name checked in the server's certificate (and sent as the authority); "" for none. */
  public String serverName() {
    return serverName;
  }

  /** Whether the connection uses TLS. */
  public boolean usesTls() {
    return tls;
  }

  /**
   * The channel credentials: TLS with the CA file and client certificate (read now), or plaintext;
   * composed with {@link #callCredentials()} when there is a token.
   *
   * @throws UncheckedIOException a file cannot be read or parsed
   */
  public ChannelCredentials channelCredentials() {
    ChannelCredentials transport = InsecureChannelCredentials.create();
    if (tls) {
      TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
      try {
        if (caFile != null) {
          b.trustManager(caFile.toFile());
        }
        if (clientCertFile != null) {
          b.keyManager(clientCertFile.toFile(), clientKeyFile.toFile());
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the TLS files: " + e.getMessage(), e);
      }
      transport = b.build();
    }
    CallCredentials call = callCredentials();
    return call == null ? transport : CompositeChannelCredentials.create(transport, call);
  }

  /** Call credentials sending the token on every call; null without a token. */
  public CallCredentials callCredentials() {
    return token.isEmpty() ? null : bearerToken(token);
  }

  /**
   * Call credentials that send {@code authorization: Bearer <token>} (for a channel or, with {@code
   * stub.withCallCredentials}, for one stub). They do not require TLS, so that a server on loopback
   * or a Unix socket can check a token too.
   */
  public static CallCredentials bearerToken(String token) {
    String value = "Bearer " + Objects.requireNonNull(token, "token");
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(
          RequestInfo requestInfo, Executor appExecutor, MetadataApplier applier) {
        Metadata headers = new Metadata();
        headers.put(AUTHORIZATION, value);
        applier.apply(headers);
      }
    };
  }

  @Override
  public String toString() {
    return "ConnectOptions{token="
        + (token.isEmpty() ? "none" : "set")
        + ", caFile="
        + caFile
        + ", clientCertFile="
        + clientCertFile
        + ", clientKeyFile="
        + clientKeyFile
        + ", serverName="
        + serverName
        + ", tls="
        + tls
        + "}";
  }

  /** Builds {@link ConnectOptions}; every setting is optional. */
  public static final class Builder {
    private String token = "";
    private Path caFile;
    private Path clientCertFile;
    private Path clientKeyFile;
    private String serverName = "";
    private Boolean tls;

    private Builder() {}

    /** The bearer token sent on every call; "" or null sends none. */
    public Builder token(String token) {
      this.token = token == null ? "" : token;
      return this;
    }

    /** A PEM CA bundle the server's certificate must chain to; turns TLS on. */
    public Builder caFile(Path caFile) {
      this.caFile = caFile;
      return this;
    }

    /** A PEM client certificate and its PEM private key (mutual TLS); turns TLS on. */
    public Builder clientCertificate(Path certFile, Path keyFile) {
      this.clientCertFile = Objects.requireNonNull(certFile, "certFile");
      this.clientKeyFile = Objects.requireNonNull(keyFile, "keyFile");
      return this;
    }

    /** The name the server's certificate must carry instead of the target's host. */
    public Builder serverName(String serverName) {
      this.serverName = serverName == null ? "" : serverName;
      return this;
    }

    /**
     * TLS on or off. Default: on when a CA file or a client certificate is set; on without a CA
     * file, the JDK's default roots are trusted.
     */
    public Builder tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    /**
     * The options.
     *
     * @throws IllegalArgumentException a client certificate without its key, or with {@code
     *     tls(false)}
     */
    public ConnectOptions build() {
      return new ConnectOptions(this);
    }
  }
}
