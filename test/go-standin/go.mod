// Stand-in for github.com/stripe/smokescreen at v0.0.4: the exported API a custom entrypoint
// (main.go) compiles against, as listed in upstream-facts.md. See README.md.
module github.com/stripe/smokescreen

go 1.19

require github.com/sirupsen/logrus v1.4.2
