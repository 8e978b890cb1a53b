package tlsconfig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names SelfSigned uses inside its directory.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
)

// Lifetimes of the development PKI. A certificate that expires within
// renewBefore is issued again at the next start.
const (
	caLifetime     = 10 * 365 * 24 * time.Hour
	serverLifetime = 365 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
)

// DevPKI is what SelfSigned wrote or found.
type DevPKI struct {
	CACert, CAKey         string // paths of the CA certificate and key
	ServerCert, ServerKey string // paths of the server certificate and key
	CACreated             bool   // a new CA was generated (clients must trust it anew)
	ServerCreated         bool   // a new server certificate was issued
	NotAfter              time.Time
	Hosts                 []string // names and addresses in the server certificate
}

// SelfSigned makes sure dir holds a development CA and a server certificate
// signed by it for localhost, 127.0.0.1, ::1 and hosts (see the package
// doc), creating dir (0700) if needed. Existing files are reused; damaged
// CA files are an error rather than silently replaced, since clients may
// trust that CA.
func SelfSigned(dir string, hosts []string) (*DevPKI, error) {
	return selfSigned(dir, hosts, time.Now())
}

func selfSigned(dir string, hosts []string, now time.Time) (*DevPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	p := &DevPKI{
		CACert: filepath.Join(dir, CACertFile), CAKey: filepath.Join(dir, CAKeyFile),
		ServerCert: filepath.Join(dir, ServerCertFile), ServerKey: filepath.Join(dir, ServerKeyFile),
		Hosts: serverHosts(hosts),
	}
	ca, caKey, err := p.loadCA(now)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		if ca, caKey, err = p.createCA(now); err != nil {
			return nil, err
		}
		p.CACreated = true
	}
	if !p.CACreated {
		if leaf, ok := p.serverUsable(ca, now); ok {
			p.NotAfter = leaf.NotAfter
			return p, nil
		}
	}
	if err := p.issueServer(ca, caKey, now); err != nil {
		return nil, err
	}
	p.ServerCreated = true
	return p, nil
}

// serverHosts is the default names plus hosts, without duplicates, empty
// names or wildcard addresses (0.0.0.0, ::), which are no one's name.
func serverHosts(hosts []string) []string {
	out := []string{"localhost", "127.0.0.1", "::1"}
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
		if ip := net.ParseIP(h); ip != nil {
			if ip.IsUnspecified() {
				continue
			}
			h = ip.String()
		} else {
			h = strings.ToLower(h)
		}
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// loadCA returns the existing CA, or nil if there is none or it (nearly)
// expired.
func (p *DevPKI) loadCA(now time.Time) (*x509.Certificate, crypto.Signer, error) {
	certPEM, errCert := os.ReadFile(p.CACert)
	keyPEM, errKey := os.ReadFile(p.CAKey)
	switch {
	case errors.Is(errCert, fs.ErrNotExist) && errors.Is(errKey, fs.ErrNotExist):
		return nil, nil, nil
	case errCert != nil:
		return nil, nil, fmt.Errorf("tls: development CA: %w", errCert)
	case errKey != nil:
		return nil, nil, fmt.Errorf("tls: development CA: %w", errKey)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: development CA %s: %w (delete %s to create a new CA)",
			p.CACert, err, filepath.Dir(p.CACert))
	}
	ca := pair.Leaf
	if ca == nil {
		if ca, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("tls: development CA %s: %w", p.CACert, err)
		}
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !ca.IsCA {
		return nil, nil, fmt.Errorf("tls: development CA %s is not a CA certificate with a signing key (delete %s to create a new CA)",
			p.CACert, filepath.Dir(p.CACert))
	}
	if now.Add(renewBefore).After(ca.NotAfter) {
		return nil, nil, nil // expired or about to: a new CA
	}
	return ca, signer, nil
}

func (p *DevPKI) createCA(now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"enmasse development"}, CommonName: "enmasse development CA " + host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: creating the development CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	// Key first: a CA certificate without its key would be "damaged".
	if err := writeKey(p.CAKey, key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(p.CACert, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// serverUsable reports whether the existing server pair is signed by ca,
// names every host and stays valid beyond renewBefore.
func (p *DevPKI) serverUsable(ca *x509.Certificate, now time.Time) (*x509.Certificate, bool) {
	pair, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		return nil, false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || now.Add(renewBefore).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now}); err != nil {
		return nil, false
	}
	for _, h := range p.Hosts {
		if leaf.VerifyHostname(h) != nil {
			return nil, false
		}
	}
	return leaf, true
}

func (p *DevPKI) issueServer(ca *x509.Certificate, caKey crypto.Signer, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   randomSerial(),
		Subject:        pkix.Name{Organization: []string{"enmasse development"}, CommonName: p.Hosts[0]},
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       now.Add(serverLifetime),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		AuthorityKeyId: ca.SubjectKeyId,
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	for _, h := range p.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("tls: issuing the development server certificate: %w", err)
	}
	// Key first, then certificate: a Reloader that reads in between sees a
	// mismatch, keeps the old pair and loads the new one at its next check.
	if err := writeKey(p.ServerKey, key); err != nil {
		return err
	}
	if err := writePEM(p.ServerCert, "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	p.NotAfter = tmpl.NotAfter.UTC().Truncate(time.Second) // as encoded
	return nil
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // never fails since Go 1.24
	return n.Add(n, big.NewInt(1))
}

// keyID identifies a public key for the subject/authority key identifier
// extensions: the SHA-1 of its DER encoding (RFC 5280 §4.2.1.2 leaves the
// method open).
func keyID(pub *ecdsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub) // cannot fail for a P-256 key
	sum := sha1.Sum(der)
	return sum[:]
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

// writePEM replaces path atomically with one PEM block, mode perm.
func writePEM(path, typ string, der []byte, perm os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("tls: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("tls: writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tls: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tls: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}
