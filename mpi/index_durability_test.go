package mpi_test

import (
	"bufio"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const killWriterEnv = "CARELENS_INDEX_KILL_WRITER"

// killWriterRecord is record i of the writer's stream: two records (gp,
// hospital) per person, so that acknowledged records share persons.
func killWriterRecord(i int) match.Record {
	return testPerson(5000+i/2, []string{"gp", "hospital"}[i%2])
}

// TestIndexKillWriterProcess is the writer half of TestIndexSurvivesKill; it
// runs only in the subprocess that test starts. It adds records until it is
// killed and prints "ack <source> <id> <person>" after each acknowledged
// write (Add returned, or Load reported the batch committed).
func TestIndexKillWriterProcess(t *testing.T) {
	spec := os.Getenv(killWriterEnv)
	if spec == "" {
		t.Skip("writer subprocess of TestIndexSurvivesKill")
	}
	mode, dir, _ := strings.Cut(spec, ":")
	s, err := badgerstore.Open(dir, nil)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	ix, err := mpi.OpenIndex(t.Context(), s, &mpi.IndexOptions{LoadBatch: 25})
	if err != nil {
		fmt.Println("open index:", err)
		os.Exit(3)
	}
	switch mode {
	case "add":
		for i := range 1_000_000 {
			r := killWriterRecord(i)
			p, err := ix.Add(t.Context(), r)
			if err != nil {
				fmt.Println("add:", err)
				os.Exit(3)
			}
			fmt.Printf("ack %s %s %s\n", r.Source, r.ID, p)
		}
	case "load":
		seq := func(yield func(match.Record, error) bool) {
			for i := range 1_000_000 {
				if !yield(killWriterRecord(i), nil) {
					return
				}
			}
		}
		acked := 0
		_, err := ix.Load(t.Context(), iter.Seq2[match.Record, error](seq), func(n int) {
			// The batch up to n is committed: acknowledge it, with persons.
			for ; acked < n; acked++ {
				r := killWriterRecord(acked)
				p, err := ix.PersonOf(t.Context(), r.Ref())
				if err != nil {
					fmt.Println("person:", err)
					os.Exit(3)
				}
				fmt.Printf("ack %s %s %s\n", r.Source, r.ID, p)
			}
		})
		if err != nil {
			fmt.Println("load:", err)
			os.Exit(3)
		}
	}
	os.Exit(0)
}

// TestIndexSurvivesKill starts a writer process, kills it with SIGKILL in
// the middle of its writes, reopens the store and checks that every
// acknowledged record is there with the same enterprise id.
func TestIndexSurvivesKill(t *testing.T) {
	if os.Getenv(killWriterEnv) != "" {
		t.Skip("in the writer subprocess")
	}
	for _, tc := range []struct {
		name     string
		mode     string
		killAfer int
	}{
		{name: "single adds", mode: "add", killAfer: 300},
		{name: "batched load", mode: "load", killAfer: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestIndexKillWriterProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), killWriterEnv+"="+tc.mode+":"+dir)
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())

			type ack struct {
				ref    match.RecordRef
				person string
			}
			var acks []ack
			var other []string
			killed := false
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) != 4 || f[0] != "ack" {
					other = append(other, sc.Text())
					continue
				}
				acks = append(acks, ack{match.RecordRef{Source: f[1], ID: f[2]}, f[3]})
				if len(acks) == tc.killAfer && !killed {
					require.NoError(t, cmd.Process.Kill()) // SIGKILL: no chance to flush or close
					killed = true
				}
			}
			err = cmd.Wait()
			require.True(t, killed, "writer ended before it was killed: %v %v", err, other)
			require.Error(t, err, "the writer was killed")
			require.GreaterOrEqual(t, len(acks), tc.killAfer)

			ix, s := openBadger(t, dir)
			defer s.Close()
			for _, a := range acks {
				got, err := ix.PersonOf(t.Context(), a.ref)
				require.NoError(t, err, "acknowledged record %s lost", a.ref)
				assert.Equal(t, a.person, got, "enterprise id of %s changed", a.ref)
			}
			st, err := ix.Stats(t.Context())
			require.NoError(t, err)
			assert.GreaterOrEqual(t, st.Records, len(acks))
			// Pairs were added gp then hospital: both of an acknowledged pair
			// are one person.
			for i := 1; i < len(acks); i += 2 {
				assert.Equal(t, acks[i-1].person, acks[i].person)
			}
			// The reopened index keeps working.
			next := killWriterRecord(st.Records + 10)
			next.Source, next.ID = "after", "restart"
			add(t, ix, next)
		})
	}
}
