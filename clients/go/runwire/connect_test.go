package runwire

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOptionsFromEnv(t *testing.T) {
	t.Setenv(EnvToken, " secret \n")
	t.Setenv(EnvCAFile, "/pki/ca.pem")
	t.Setenv(EnvClientCertFile, "/pki/client.pem")
	t.Setenv(EnvClientKeyFile, "/pki/client-key.pem")
	t.Setenv(EnvTLSServerName, "runwire.internal")
	want := Options{
		Token:          "secret",
		CAFile:         "/pki/ca.pem",
		ClientCertFile: "/pki/client.pem",
		ClientKeyFile:  "/pki/client-key.pem",
		ServerName:     "runwire.internal",
	}
	if got := OptionsFromEnv(); got != want {
		t.Errorf("OptionsFromEnv() = %+v, want %+v", got, want)
	}
	if !want.UsesTLS() {
		t.Error("a CA file does not turn TLS on")
	}
}

func TestZeroOptionsArePlaintextWithoutToken(t *testing.T) {
	for _, name := range []string{EnvToken, EnvCAFile, EnvClientCertFile, EnvClientKeyFile, EnvTLSServerName} {
		t.Setenv(name, "")
	}
	o := OptionsFromEnv()
	if o != (Options{}) || o.UsesTLS() {
		t.Errorf("OptionsFromEnv() = %+v without variables", o)
	}
	config, err := o.TLSConfig()
	if config != nil || err != nil {
		t.Errorf("TLSConfig() = %v, %v for plaintext", config, err)
	}
	opts, err := o.DialOptions()
	if err != nil || len(opts) != 1 {
		t.Errorf("DialOptions() = %d options, %v; want the transport credentials only", len(opts), err)
	}
}

func TestBearerTokenMetadata(t *testing.T) {
	creds := BearerToken("k3y")
	md, err := creds.GetRequestMetadata(context.Background())
	if err != nil || len(md) != 1 || md["authorization"] != "Bearer k3y" {
		t.Errorf("GetRequestMetadata() = %v, %v", md, err)
	}
	if creds.RequireTransportSecurity() {
		t.Error("the token must also reach a server on loopback or a Unix socket")
	}
}

func TestTLSConfigReadsTheFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	o := Options{Token: "k", CAFile: certFile, ClientCertFile: certFile, ClientKeyFile: keyFile, ServerName: "localhost"}
	config, err := o.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if config.RootCAs == nil || len(config.Certificates) != 1 || config.ServerName != "localhost" {
		t.Errorf("TLSConfig() = %+v", config)
	}
	opts, err := o.DialOptions()
	if err != nil || len(opts) != 2 {
		t.Errorf("DialOptions() = %d options, %v; want TLS and the token", len(opts), err)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		options Options
		want    string
	}{
		"missing CA file": {Options{CAFile: filepath.Join(dir, "missing.pem")}, "reading the CA file"},
		"CA without PEM":  {Options{CAFile: notPEM}, "no PEM certificate"},
		"cert alone":      {Options{ClientCertFile: certFile}, "both its certificate and its key"},
		"key alone":       {Options{ClientKeyFile: keyFile}, "both its certificate and its key"},
		"bad key":         {Options{ClientCertFile: certFile, ClientKeyFile: notPEM}, "loading the client certificate"},
	}
	for name, c := range cases {
		if _, err := c.options.DialOptions(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: DialOptions() error %v, want one containing %q", name, err, c.want)
		}
		if _, err := Connect("127.0.0.1:1", c.options); err == nil {
			t.Errorf("%s: Connect() did not fail", name)
		}
	}
}

// writeSelfSigned writes a self-signed certificate and its key as PEM files.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
