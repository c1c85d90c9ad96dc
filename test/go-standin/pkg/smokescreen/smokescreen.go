// Package smokescreen is a stand-in for github.com/stripe/smokescreen/pkg/smokescreen at
// v0.0.4: the exported API an entrypoint uses, with StartWithConfig replaying the proxy's
// per-request role decision instead of serving (see ../../README.md).
package smokescreen

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
)

// Config is the proxy's configuration; NewConfiguration fills it from the command line.
type Config struct {
	// RoleFromRequest names the client's ACL role; an error refuses the request (HTTP 407)
	// unless it is a missing-role error and AllowMissingRole is set.
	RoleFromRequest  func(req *http.Request) (string, error)
	AllowMissingRole bool
	Log              *logrus.Logger
	// Healthcheck, when set, answers /healthcheck; the CLI never sets it.
	Healthcheck    http.Handler
	StatsSocketDir string
}

type missingRoleError struct{ message string }

func (err missingRoleError) Error() string { return err.message }

// MissingRoleError is the error a RoleFromRequest returns when the client has no role.
func MissingRoleError(s string) error { return missingRoleError{message: s} }

// IsMissingRoleError tells whether err came from MissingRoleError.
func IsMissingRoleError(err error) bool {
	_, ok := err.(missingRoleError)
	return ok
}

// Log2LogrusWriter routes writes (e.g. from the standard log package) to a logrus entry.
type Log2LogrusWriter struct {
	Entry *logrus.Entry
}

func (w *Log2LogrusWriter) Write(b []byte) (int, error) {
	n := len(b)
	if n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	w.Entry.Warning(string(b))
	return n, nil
}

// RoleDecision is what the proxy decided for one request.
type RoleDecision struct {
	Role    string `json:"role"`
	Refused bool   `json:"refused"`
	Status  int    `json:"status,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ReplayResult is the line StartWithConfig prints.
type ReplayResult struct {
	Plain        RoleDecision `json:"plain"`
	Cert         RoleDecision `json:"cert"`
	JSONLogging  bool         `json:"jsonLogging"`
	StdlogRouted bool         `json:"stdlogRouted"`
	Problem      string       `json:"problem,omitempty"`
}

// ResultPrefix starts the machine-readable line on stdout.
const ResultPrefix = "SMOKESCREEN-STANDIN-RESULT "

// CertificateRole is the CommonName of the client certificate in the replayed TLS request.
const CertificateRole = "svc"

const connectRequest = "CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n"

func newConnectRequest() *http.Request {
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(connectRequest)))
	if err != nil {
		panic(err)
	}
	req.RemoteAddr = "172.20.0.5:40000"
	return req
}

// decideRole applies v0.0.4's rule to one request; a panicking role function refuses it.
func decideRole(config *Config, req *http.Request) (decision RoleDecision) {
	defer func() {
		if recovered := recover(); recovered != nil {
			decision = RoleDecision{Refused: true, Status: http.StatusInternalServerError, Error: fmt.Sprintf("RoleFromRequest panicked: %v", recovered)}
		}
	}()
	if config.RoleFromRequest == nil {
		return RoleDecision{Refused: true, Status: http.StatusInternalServerError, Error: "Config.RoleFromRequest is nil"}
	}
	role, err := config.RoleFromRequest(req)
	if err != nil {
		if IsMissingRoleError(err) && config.AllowMissingRole {
			return RoleDecision{Role: "", Error: err.Error()}
		}
		return RoleDecision{Refused: true, Status: http.StatusProxyAuthRequired, Error: "Client role cannot be determined: " + err.Error()}
	}
	return RoleDecision{Role: role}
}

// StartWithConfig would serve the proxy and block; the stand-in instead replays the role
// decision for a plain-HTTP CONNECT and for one from a client with a TLS certificate (CommonName
// "svc"), prints the result line and exits: 0 when both clients are served as they must be.
func StartWithConfig(config *Config, quit <-chan interface{}) {
	result := ReplayResult{}
	if config == nil {
		// Upstream dereferences the config at once; a nil config is a crash there.
		result.Problem = "StartWithConfig called with a nil config"
		report(result, false)
		return
	}
	if config.Log == nil {
		result.Problem = "Config.Log is nil"
		report(result, false)
		return
	}
	_, result.JSONLogging = config.Log.Formatter.(*logrus.JSONFormatter)
	_, result.StdlogRouted = log.Writer().(*Log2LogrusWriter)

	result.Plain = decideRole(config, newConnectRequest())

	withCert := newConnectRequest()
	certificate := &x509.Certificate{Subject: pkix.Name{CommonName: CertificateRole}}
	withCert.TLS = &tls.ConnectionState{
		HandshakeComplete: true,
		PeerCertificates:  []*x509.Certificate{certificate},
		VerifiedChains:    [][]*x509.Certificate{{certificate}},
	}
	result.Cert = decideRole(config, withCert)

	passed := !result.Plain.Refused && !result.Cert.Refused && result.Cert.Role == CertificateRole
	report(result, passed)
}

func report(result ReplayResult, passed bool) {
	encoded, err := json.Marshal(result)
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(os.Stdout, "%s%s\n", ResultPrefix, encoded)
	if passed {
		os.Exit(0)
	}
	os.Exit(1)
}
