package runwire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// The environment variables every Runwire client reads for its connection
// settings ([OptionsFromEnv]).
const (
	// EnvToken holds the bearer token (an API key or a JWT).
	EnvToken = "RUNWIRE_TOKEN"
	// EnvCAFile names a PEM CA bundle to trust; setting it turns TLS on.
	EnvCAFile = "RUNWIRE_CA_FILE"
	// EnvClientCertFile names a PEM client certificate, for mutual TLS.
	EnvClientCertFile = "RUNWIRE_CLIENT_CERT_FILE"
	// EnvClientKeyFile names the PEM private key of the client certificate.
	EnvClientKeyFile = "RUNWIRE_CLIENT_KEY_FILE"
	// EnvTLSServerName overrides the name checked in the server's certificate.
	EnvTLSServerName = "RUNWIRE_TLS_SERVER_NAME"
)

// Options says how to reach a Runwire server: TLS and a bearer token. The
// zero value is a plaintext connection without a token (a server on loopback
// or a Unix socket with authentication off).
type Options struct {
	// Token is sent as "authorization: Bearer <Token>" on every call, unary
	// and streaming; "" sends none. Without TLS it travels in clear: use one
	// without TLS only on loopback or a Unix socket.
	Token string
	// CAFile is a PEM CA bundle the server's certificate must chain to;
	// setting it turns TLS on. With TLS on and no CAFile, the system roots
	// are trusted.
	CAFile string
	// ClientCertFile and ClientKeyFile are a PEM client certificate and its
	// private key, presented for mutual TLS; setting them turns TLS on.
	ClientCertFile string
	ClientKeyFile  string
	// ServerName is the name the server's certificate must carry, instead of
	// the target's host.
	ServerName string
	// TLS turns TLS on even without CAFile or a client certificate.
	TLS bool
}

// OptionsFromEnv reads the connection settings from the environment:
// RUNWIRE_TOKEN, RUNWIRE_CA_FILE, RUNWIRE_CLIENT_CERT_FILE,
// RUNWIRE_CLIENT_KEY_FILE and RUNWIRE_TLS_SERVER_NAME. Without any of them it
// is the zero Options (plaintext, no token).
func OptionsFromEnv() Options {
	return Options{
		Token:          strings.TrimSpace(os.Getenv(EnvToken)),
		CAFile:         os.Getenv(EnvCAFile),
		ClientCertFile: os.Getenv(EnvClientCertFile),
		ClientKeyFile:  os.Getenv(EnvClientKeyFile),
		ServerName:     os.Getenv(EnvTLSServerName),
	}
}

// UsesTLS reports whether the connection uses TLS: TLS is set, or a CA file
// or a client certificate is given.
func (o Options) UsesTLS() bool {
	return o.TLS || o.CAFile != "" || o.ClientCertFile != "" || o.ClientKeyFile != ""
}

// TLSConfig returns the TLS configuration of o (the files are read now), or
// nil when o is plaintext. It fails when a file cannot be read or parsed, or
// when only one of ClientCertFile and ClientKeyFile is set.
func (o Options) TLSConfig() (*tls.Config, error) {
	if !o.UsesTLS() {
		return nil, nil
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("runwire: reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("runwire: no PEM certificate in the CA file %s", o.CAFile)
		}
		config.RootCAs = pool
	}
	if (o.ClientCertFile == "") != (o.ClientKeyFile == "") {
		return nil, errors.New("runwire: a client certificate needs both its certificate and its key file")
	}
	if o.ClientCertFile != "" {
		pair, err := tls.LoadX509KeyPair(o.ClientCertFile, o.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("runwire: loading the client certificate: %w", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return config, nil
}

// DialOptions returns the gRPC dial options of o: the transport credentials
// (TLS, or plaintext) and, with a Token, per-RPC credentials that send it on
// every call. Pass them to [Dial], or use [Connect].
func (o Options) DialOptions() ([]grpc.DialOption, error) {
	config, err := o.TLSConfig()
	if err != nil {
		return nil, err
	}
	transport := insecure.NewCredentials()
	if config != nil {
		transport = credentials.NewTLS(config)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(transport)}
	if o.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(BearerToken(o.Token)))
	}
	return opts, nil
}

// Connect creates a Client for target with the connection settings o (for
// example [OptionsFromEnv]()); extra dial options come after o's. Like
// [Dial] it connects lazily, on the first call.
func Connect(target string, o Options, extra ...grpc.DialOption) (*Client, error) {
	opts, err := o.DialOptions()
	if err != nil {
		return nil, err
	}
	return Dial(target, append(opts, extra...)...)
}

// BearerToken returns per-RPC credentials that send "authorization: Bearer
// <token>" on every call (grpc.WithPerRPCCredentials, or grpc.PerRPCCredentials
// for one call). They do not require TLS, so that a server on loopback or a
// Unix socket can check a token too.
func BearerToken(token string) credentials.PerRPCCredentials {
	return bearerToken{header: "Bearer " + token}
}

type bearerToken struct{ header string }

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": b.header}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }
