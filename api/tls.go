package api

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// CurvePreferences lists the key exchanges COP offers, Go's hybrid post-quantum
// X25519MLKEM768 first: a recorded session stays safe against a future quantum computer.
// The classical groups remain for clients without ML-KEM.
var CurvePreferences = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}

// TLSConfig returns the server's TLS configuration: TLS 1.3 only, hybrid post-quantum key
// exchange preferred, and with clientCA set, client certificates verified against it (a
// verified certificate's subject CN names the identity; clients without one still use
// bearer tokens).
func TLSConfig(certFile, keyFile, clientCA string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both --tls-cert and --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot load TLS certificate: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: CurvePreferences,
		Certificates:     []tls.Certificate{cert},
		NextProtos:       []string{"http/1.1"}, // the websocket hub hijacks HTTP/1.1 connections
	}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("cannot read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s: no PEM certificate found", clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
