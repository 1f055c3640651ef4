package independent

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Build compiles the carelens command into dir and returns its path. It
// strips the symbol table and leaves out version-control stamping, which
// makes the link about a third cheaper and changes nothing the linker does.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "carelens")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, "github.com/carelens/carelens/cmd/carelens")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build carelens: %w\n%s", err, out)
	}
	return bin, nil
}

// Run is one carelens link run.
type Run struct {
	Command   []string
	Wall      time.Duration
	MaxRSSKiB int64  // peak resident set size of the linker
	Summary   string // the "carelens link:" line
	Stderr    string
}

// Link runs carelens link with its defaults on inputs, writing clusters and
// linked pairs, as a user would, under /usr/bin/time -v when the machine
// has it (the peak RSS then comes from its report; otherwise from the
// process's rusage).
func Link(ctx context.Context, bin string, inputs []string, clusters, pairs string) (Run, error) {
	args := append([]string{"link", "--out", clusters, "--pairs", pairs}, inputs...)
	name := bin
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		name, args = "/usr/bin/time", append([]string{"-v", bin}, args...)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	run := Run{Command: cmd.Args, Wall: time.Since(start), Stderr: stderr.String()}
	if err != nil {
		return run, fmt.Errorf("carelens link: %w\n%s", err, tail(run.Stderr, 2000))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		run.MaxRSSKiB = ru.Maxrss
	}
	sc := bufio.NewScanner(strings.NewReader(run.Stderr))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "carelens link:"):
			run.Summary = line
		case strings.HasPrefix(line, "Maximum resident set size (kbytes):"):
			if v, err := strconv.ParseInt(strings.TrimSpace(line[strings.LastIndex(line, ":")+1:]), 10, 64); err == nil {
				run.MaxRSSKiB = v
			}
		case strings.HasPrefix(line, "Elapsed (wall clock) time"):
			if d, ok := parseClock(line[strings.LastIndex(line, " ")+1:]); ok {
				run.Wall = d
			}
		}
	}
	return run, nil
}

// parseClock reads /usr/bin/time's h:mm:ss or m:ss.ss.
func parseClock(s string) (time.Duration, bool) {
	parts := strings.Split(s, ":")
	var secs float64
	for _, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, false
		}
		secs = secs*60 + v
	}
	return time.Duration(secs * float64(time.Second)), true
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
