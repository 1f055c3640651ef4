package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/viewer"
	"github.com/carelens/carelens/viewer/demo"
)

func init() {
	register(command{name: "launch-token", summary: "mint a signed, single-use launch link that opens a patient in the demo viewer as a demo user", run: runLaunchToken})
}

const launchTokenSynopsis = "--nhs NUMBER [--user ID] [--data DIR] [--ttl 2m] [--url http://127.0.0.1:8080]"

// runLaunchToken signs a launch token with the demo issuer's key (kept in
// the demo's data directory) and prints the link a GP or hospital system
// would open.
func runLaunchToken(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("launch-token", stderr, launchTokenSynopsis)
	nhs := fs.String("nhs", "", "the patient's NHS number")
	user := fs.String("user", "gp.doctor", "the demo user to sign in as")
	data := fs.String("data", "carelens-data", "the demo's data directory (holds the demo issuer's key)")
	ttl := fs.Duration("ttl", 2*time.Minute, "how long the link is valid (at most 5m)")
	base := fs.String("url", "http://127.0.0.1:8080", "the viewer's address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	n := strings.NewReplacer(" ", "", "-", "").Replace(*nhs)
	if !nhsnumber.Valid(n) || len(n) != 10 {
		fs.Usage()
		return fmt.Errorf("%w: --nhs must be a valid NHS number", errUsage)
	}
	if *ttl <= 0 || *ttl > viewer.DefaultLaunchLifetime {
		return fmt.Errorf("%w: --ttl must be between 0 and %s", errUsage, viewer.DefaultLaunchLifetime)
	}
	var u *demo.User
	for i := range demo.Users {
		if demo.Users[i].ID == *user {
			u = &demo.Users[i]
		}
	}
	if u == nil {
		return fmt.Errorf("%w: --user %q is not a demo user", errUsage, *user)
	}
	keyPath := filepath.Join(*data, "launch-issuer.key")
	pemBytes, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("launch-token: %w (start `carelens serve --demo` once to create it)", err)
	}
	key, err := demo.ParsePrivateKey(pemBytes)
	if err != nil {
		return fmt.Errorf("launch-token: %s: %w", keyPath, err)
	}
	tok, err := viewer.MintLaunchToken(key, demo.LaunchIssuer, "", u.ID, u.Org, string(u.Role), n, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s/launch?token=%s\n", strings.TrimRight(*base, "/"), url.QueryEscape(tok))
	return nil
}
