package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// TestOpenOverTLS reaches ClickHouse through a TLS front (as its secure native port would
// answer): with the CA it works; without TLS, or trusting another CA, it is refused.
func TestOpenOverTLS(t *testing.T) {
	_, ch := itest.Services(t)
	ca, serverCert := testPKI(t)
	other, _ := testPKI(t)
	addr := tlsFront(t, ch, serverCert)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	st, err := store.OpenWith(ctx, addr, store.Options{TLS: &tls.Config{RootCAs: ca, MinVersion: tls.VersionTLS12}, Database: itest.Database()})
	if err != nil {
		t.Fatalf("over TLS with the right CA: %v", err)
	}
	var one uint8
	if err := st.Conn().QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 over TLS: %v %d", err, one)
	}
	st.Close()

	if st, err := store.OpenWith(ctx, addr, store.Options{TLS: &tls.Config{RootCAs: other}}); err == nil {
		st.Close()
		t.Error("a server whose certificate chains to another CA was trusted")
	}
	short, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	if st, err := store.OpenWith(short, addr, store.Options{}); err == nil {
		st.Close()
		t.Error("plain TCP to a TLS port answered")
	}
}

// testPKI returns a fresh CA pool and a server certificate for 127.0.0.1 signed by it.
func testPKI(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "COP test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "clickhouse"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsFront listens on 127.0.0.1 with TLS and relays each connection to target in clear.
func tlsFront(t *testing.T, target string, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c)
				io.Copy(c, b)
			}()
		}
	}()
	return ln.Addr().String()
}
