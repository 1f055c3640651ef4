package audit

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv names the store a re-executed test binary appends to.
const childEnv = "CARELENS_AUDIT_KILL_CHILD_DIR"

// TestDurabilityChild is the child of TestDurabilityKill9: it appends from
// several goroutines until killed, printing "ack <seq>" after each Append
// returns.
func TestDurabilityChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("run by TestDurabilityKill9")
	}
	l, err := Open(dir, Options{Key: testKey})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				ev := viewEvent(i)
				ev.RequestID = fmt.Sprintf("w%d-%d", w, i)
				seq, err := l.Append(t.Context(), ev)
				if err != nil {
					fmt.Println("error", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %s\n", seq, ev.RequestID)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestDurabilityKill9 kills a process that is appending (SIGKILL, no
// chance to close the store) and checks that every entry whose Append had
// returned is in the store after reopening, with the right content, and
// that the log verifies. It runs twice on the same store, so the second
// child starts from a store recovered after a kill.
func TestDurabilityKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	acked := map[uint64]string{}
	for round := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stdout)
		deadline := time.Now().Add(700 * time.Millisecond)
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "ack" {
				seq, err := strconv.ParseUint(f[1], 10, 64)
				require.NoError(t, err)
				require.NotContains(t, acked, seq, "a sequence number acknowledged twice")
				acked[seq] = f[2]
				n++
			} else if len(f) > 0 && f[0] == "error" {
				t.Fatalf("child: %s", sc.Text())
			}
			if n >= 150 && time.Now().After(deadline) {
				break
			}
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		t.Logf("round %d: %d appends acknowledged before the kill", round, n)
		require.GreaterOrEqual(t, n, 150)
	}

	l, err := Open(dir, Options{Key: testKey})
	require.NoError(t, err, "the store opens after kill -9")
	defer l.Close()
	require.NoError(t, l.Verify(t.Context()))
	found := map[uint64]string{}
	for ev, err := range l.Events(t.Context(), Filter{}) {
		require.NoError(t, err)
		found[ev.Seq] = ev.RequestID
	}
	missing := 0
	for seq, id := range acked {
		if got, ok := found[seq]; !ok {
			missing++
		} else {
			assert.Equal(t, id, got, "entry %d", seq)
		}
	}
	assert.Zero(t, missing, "acknowledged entries lost, of %d", len(acked))
	assert.GreaterOrEqual(t, len(found), len(acked))
}
