// Package cmd is a stand-in for github.com/stripe/smokescreen/cmd at v0.0.4: the command line
// becomes a *smokescreen.Config.
package cmd

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/stripe/smokescreen/pkg/smokescreen"
)

// Version printed by --version.
const Version = "0.0.4"

type repeated []string

func (values *repeated) String() string     { return fmt.Sprint(*values) }
func (values *repeated) Set(v string) error { *values = append(*values, v); return nil }

// NewConfiguration parses args (os.Args when nil; args[0] is the program name) into a
// configuration, using logger or a new one. It returns (nil, nil) when --help or --version was
// given: it printed the usage or version, and the caller has nothing to start.
func NewConfiguration(args []string, logger *logrus.Logger) (*smokescreen.Config, error) {
	if args == nil {
		args = os.Args
	}
	if logger == nil {
		logger = logrus.New()
	}
	flags := flag.NewFlagSet("smokescreen", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	help := flags.Bool("help", false, "show help")
	version := flags.Bool("version", false, "print the version")
	// The stand-in never serves: flags other than the stats directory are only validated.
	flags.String("egress-acl-file", "", "egress ACL file")
	flags.String("listen-ip", "", "listen address")
	flags.Uint("listen-port", 4750, "listen port")
	var denyRanges, allowRanges repeated
	flags.Var(&denyRanges, "deny-range", "CIDR to deny")
	flags.Var(&allowRanges, "allow-range", "CIDR to allow")
	statsSocketDir := flags.String("stats-socket-dir", "", "directory for the stats socket")
	flags.String("stats-socket-file-mode", "700", "stats socket file mode")
	flags.String("config-file", "", "YAML configuration file")

	var rest []string
	if len(args) > 1 {
		rest = args[1:]
	}
	if err := flags.Parse(rest); err != nil {
		if err == flag.ErrHelp {
			*help = true
		} else {
			return nil, err
		}
	}
	if *help {
		fmt.Fprintln(os.Stdout, "usage: smokescreen [flags] (stand-in)")
		return nil, nil
	}
	if *version {
		fmt.Fprintln(os.Stdout, Version)
		return nil, nil
	}
	return &smokescreen.Config{Log: logger, StatsSocketDir: *statsSocketDir}, nil
}
