// Smokescreen entrypoint for the OpenClaw egress proxy (written by openclaw-fix, bug 3).
//
// The image build copies this file over upstream's main.go after `git checkout` and before
// `go build`. It is upstream's v0.0.4 main.go with one change: AllowMissingRole is set, so a
// client without a TLS client certificate (the OpenClaw services talk to the proxy over plain
// HTTP) gets the empty role and thus the ACL's default rule instead of HTTP 407. A client that
// presents a certificate keeps its CommonName as role, as upstream does.
package main

import (
	"log"
	"net/http"

	"github.com/sirupsen/logrus"
	"github.com/stripe/smokescreen/cmd"
	"github.com/stripe/smokescreen/pkg/smokescreen"
)

// roleFromRequest is upstream's defaultRoleFromRequest: the client certificate's CommonName,
// or a missing-role error, which AllowMissingRole turns into the ACL's default rule.
func roleFromRequest(req *http.Request) (string, error) {
	if req.TLS == nil {
		return "", smokescreen.MissingRoleError("no TLS: plain-HTTP client")
	}
	if len(req.TLS.PeerCertificates) == 0 {
		return "", smokescreen.MissingRoleError("client did not provide certificate")
	}
	return req.TLS.PeerCertificates[0].Subject.CommonName, nil
}

func main() {
	conf, err := cmd.NewConfiguration(nil, nil)
	if err != nil {
		logrus.Fatalf("Could not create configuration: %v", err)
	}
	if conf == nil {
		// --help or --version: NewConfiguration has printed it; there is nothing to start.
		return
	}

	conf.RoleFromRequest = roleFromRequest
	conf.AllowMissingRole = true

	// Upstream's logging: JSON lines, with the standard log package routed through logrus.
	conf.Log.Formatter = &logrus.JSONFormatter{}
	adapter := &smokescreen.Log2LogrusWriter{
		Entry: conf.Log.WithField("stdlog", "1"),
	}
	log.SetFlags(0)
	log.SetOutput(adapter)

	// StartWithConfig returns nothing: it serves until the process ends, and on a listen
	// error it calls conf.Log.Fatal itself.
	smokescreen.StartWithConfig(conf, nil)
}
