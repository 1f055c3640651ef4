package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/mpi/badgerstore"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "tokens on loopback", args: []string{"--db", "x", "--tokens", "t"}},
		{name: "no auth on loopback", args: []string{"--db", "x", "--no-auth"}},
		{name: "no auth on localhost", args: []string{"--db", "x", "--no-auth", "--addr", "localhost:9"}},
		{name: "no db", args: []string{"--tokens", "t"}, wantErr: "--db is required"},
		{name: "no auth chosen", args: []string{"--db", "x"}, wantErr: "choose authentication"},
		{name: "no auth off loopback", args: []string{"--db", "x", "--no-auth", "--addr", "0.0.0.0:8089", "--allow-plaintext"}, wantErr: "loopback address only"},
		{name: "all interfaces without TLS", args: []string{"--db", "x", "--tokens", "t", "--addr", ":8089"}, wantErr: "not a loopback address"},
		{name: "a LAN address without TLS", args: []string{"--db", "x", "--tokens", "t", "--addr", "10.1.2.3:8089"}, wantErr: "not a loopback address"},
		{name: "a host name counts as remote", args: []string{"--db", "x", "--tokens", "t", "--addr", "matcher.example:8089"}, wantErr: "not a loopback address"},
		{name: "remote with TLS", args: []string{"--db", "x", "--tokens", "t", "--addr", "0.0.0.0:8089", "--tls-cert", "c", "--tls-key", "k"}},
		{name: "remote, explicitly plaintext", args: []string{"--db", "x", "--tokens", "t", "--addr", "0.0.0.0:8089", "--allow-plaintext"}},
		{name: "cert without key", args: []string{"--db", "x", "--tokens", "t", "--tls-cert", "c"}, wantErr: "go together"},
		{name: "client CA without TLS", args: []string{"--db", "x", "--client-ca", "ca"}, wantErr: "needs --tls-cert"},
		{name: "no auth and tokens", args: []string{"--db", "x", "--no-auth", "--tokens", "t"}, wantErr: "contradicts"},
		{name: "tiny body limit", args: []string{"--db", "x", "--no-auth", "--max-body", "10"}, wantErr: "--max-body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// testStore writes the test records into a Badger index in a temporary
// directory, closed, as `carelens index load` leaves one.
func testStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	ix, err := mpi.OpenIndex(t.Context(), s, nil)
	require.NoError(t, err)
	for _, r := range testRecords {
		_, err := ix.Add(t.Context(), r)
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	return dir
}

func writeTokens(t *testing.T, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(p, []byte("clinic-a "+testToken+"\n"), mode))
	require.NoError(t, os.Chmod(p, mode))
	return p
}

// startRun runs the command with args and returns its base URL and a
// func that stops it and returns its stderr and run's error.
func startRun(t *testing.T, args ...string) (string, func() (string, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, args, pw); pw.Close() }()
	var log strings.Builder
	urlc := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := regexp.MustCompile(`url=(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	stop := func() (string, error) {
		cancel()
		err := <-errc
		<-done
		return log.String(), err
	}
	select {
	case u := <-urlc:
		return u, stop
	case err := <-errc:
		pw.Close()
		<-done
		t.Fatalf("run ended before listening: %v\n%s", err, log.String())
	case <-time.After(20 * time.Second):
		t.Fatal("run did not start")
	}
	return "", nil
}

func TestRun(t *testing.T) {
	db := testStore(t)
	base, stop := startRun(t, "--db", db, "--addr", "127.0.0.1:0", "--tokens", writeTokens(t, 0o600), "--read-timeout", "500ms")
	body := strings.Replace(matchRequest, "%s", "", 1)

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/Patient/$match", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "served from the read-only store")

	// A client that sends its headers and then trickles its body is cut
	// off at the read timeout instead of holding the connection.
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintf(c, "POST /Patient/$match HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nAuthorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n{\"res", testToken)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c)
	assert.NoError(t, err, "the server closed the connection (EOF), rather than our 10 s deadline")
	assert.Less(t, time.Since(start), 5*time.Second)

	log, err := stop()
	require.NoError(t, err)
	assert.Contains(t, log, "who=clinic-a")
	assert.NotContains(t, log, "Hartley")
	assert.NotContains(t, log, testToken)
}

func TestRunRefuses(t *testing.T) {
	db := testStore(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "token file readable by others", args: []string{"--db", db, "--addr", "127.0.0.1:0", "--tokens", writeTokens(t, 0o644)}, wantErr: "readable by group or others"},
		{name: "missing index", args: []string{"--db", filepath.Join(t.TempDir(), "typo"), "--addr", "127.0.0.1:0", "--no-auth"}, wantErr: ""},
		{name: "bad certificate", args: []string{"--db", db, "--addr", "127.0.0.1:0", "--tokens", writeTokens(t, 0o600), "--tls-cert", db, "--tls-key", db}, wantErr: "TLS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err := run(ctx, tc.args, io.Discard)
			require.Error(t, err, "run must refuse, not serve")
			assert.NotErrorIs(t, err, context.DeadlineExceeded)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate (common name cn) signed by the CA, and returns their paths
// and the client's key pair.
func testPKI(t *testing.T, cn string) (caFile, certFile, keyFile string, client tls.Certificate, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	issue := func(tmpl *x509.Certificate, k *ecdsa.PrivateKey) []byte {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		require.NoError(t, err)
		return der
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	caFile = write("ca.pem", "CERTIFICATE", caDER)
	srvKey := newKey()
	srvDER := issue(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "matchservice"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, srvKey)
	certFile = write("server.pem", "CERTIFICATE", srvDER)
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	require.NoError(t, err)
	keyFile = write("server.key", "EC PRIVATE KEY", srvKeyDER)
	cliKey := newKey()
	cliDER := issue(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, cliKey)
	client = tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, certFile, keyFile, client, pool
}

// TestMutualTLS: with --client-ca alone, a client certificate signed by
// the CA is the caller's identity; a client without one cannot connect.
func TestMutualTLS(t *testing.T) {
	ca, cert, key, client, pool := testPKI(t, "ward-7-kiosk")
	base, stop := startRun(t, "--db", testStore(t), "--addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, "--client-ca", ca)
	require.True(t, strings.HasPrefix(base, "https://"), base)
	body := strings.Replace(matchRequest, "%s", "", 1)
	send := func(certs []tls.Certificate) (int, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
		defer c.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/Patient/$match", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	st, err := send([]tls.Certificate{client})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, st)
	_, err = send(nil)
	assert.Error(t, err, "no client certificate, no connection")
	log, err := stop()
	require.NoError(t, err)
	assert.Contains(t, log, "who=ward-7-kiosk auth=cert")
}
