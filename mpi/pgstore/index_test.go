package pgstore_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi/pgstore"
	"github.com/carelens/carelens/mpi/pgstore/pgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	givens   = []string{"Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Freya", "Arthur", "Ivy", "Leo", "Rosie"}
	families = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright"}
)

// person is record n of source src: one synthetic person, the same
// demographics from every source.
func person(n int, src string) match.Record {
	return match.Record{
		Source:    src,
		ID:        fmt.Sprintf("%s-%d", src, n),
		Given:     []string{givens[n%len(givens)]},
		Family:    families[(n/len(givens))%len(families)],
		BirthDate: fmt.Sprintf("%04d-%02d-%02d", 1930+n%70, 1+(n/7)%12, 2+(n/3)%27),
		Sex:       []string{"F", "M"}[n%2],
		Address:   []string{fmt.Sprintf("%d High Street", 1+n%97)},
		Postcode:  fmt.Sprintf("LS%d %dAB", 1+n%28, n%10),
		Phone:     fmt.Sprintf("07700 %06d", 100000+n),
	}
}

func openIndex(t testing.TB, s mpi.Store) *mpi.Index {
	t.Helper()
	ix, err := mpi.OpenIndex(t.Context(), s, nil)
	require.NoError(t, err)
	return ix
}

// TestIndexConcurrentSameNewPerson: goroutines of one process add the
// same new person at once; each round ends with one enterprise id.
func TestIndexConcurrentSameNewPerson(t *testing.T) {
	s, _ := openStore(t, nil)
	defer s.Close()
	ix := openIndex(t, s)
	for round := range 5 {
		const workers = 8
		n := 7000 + round
		start := make(chan struct{})
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for g := range workers {
			wg.Go(func() {
				<-start
				_, errs[g] = ix.Add(t.Context(), person(n, fmt.Sprintf("src%d", g)))
			})
		}
		close(start)
		wg.Wait()
		ids := map[string]bool{}
		for g := range workers {
			require.NoError(t, errs[g])
			p, err := ix.PersonOf(t.Context(), person(n, fmt.Sprintf("src%d", g)).Ref())
			require.NoError(t, err)
			ids[p] = true
		}
		require.Len(t, ids, 1, "round %d: one person, one enterprise id", round)
	}
}

// helper runs the test binary as a helper subprocess doing task.
func helper(t *testing.T, task string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner) {
	t.Helper()
	return helperOn(t, server, task)
}

// helperOn is helper with the subprocess using srv.
func helperOn(t *testing.T, srv *pgtest.Server, task string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+task, "CARELENS_PGSTORE_URL="+srv.URL("postgres"))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, in, bufio.NewScanner(out)
}

// expectLine reads lines until one starts with prefix, returning the rest.
func expectLine(t *testing.T, sc *bufio.Scanner, prefix string) string {
	t.Helper()
	var other []string
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return rest
		}
		other = append(other, sc.Text())
	}
	t.Fatalf("helper ended before %q: %v", prefix, other)
	return ""
}

// TestHelperProcess is the helper subprocess of the multi-process tests;
// it runs only when started by one of them.
//
//	add:<schema>:<n>:<source>   open an index, print "ready", wait for a
//	                            line on stdin, add person n from source,
//	                            print "person <id>"; then for each
//	                            further line "query <n> <source>" print
//	                            "found <id>" or "found -"
//	load:<schema>               load records until killed, printing
//	                            "ack <count>" as each batch commits
func TestHelperProcess(t *testing.T) {
	task := os.Getenv(helperEnv)
	if task == "" {
		t.Skip("helper subprocess of the multi-process tests")
	}
	f := strings.Split(task, ":")
	s, err := pgstore.Open(t.Context(), os.Getenv("CARELENS_PGSTORE_URL"), &pgstore.Options{Schema: f[1]})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	ix, err := mpi.OpenIndex(t.Context(), s, &mpi.IndexOptions{LoadBatch: 200})
	if err != nil {
		fmt.Println("open index:", err)
		os.Exit(3)
	}
	switch f[0] {
	case "add":
		n, _ := strconv.Atoi(f[2])
		in := bufio.NewScanner(os.Stdin)
		fmt.Println("ready")
		in.Scan()
		id, err := ix.Add(t.Context(), person(n, f[3]))
		for try := 0; errors.Is(err, mpi.ErrConflict) && try < 5; try++ {
			// The other process wrote first: this index's picture of the
			// store is stale. Open it afresh and add again.
			fmt.Println("reopened")
			if ix, err = mpi.OpenIndex(t.Context(), s, &mpi.IndexOptions{LoadBatch: 200}); err == nil {
				id, err = ix.Add(t.Context(), person(n, f[3]))
			}
		}
		if err != nil {
			fmt.Println("add:", err)
			os.Exit(3)
		}
		fmt.Println("person", id)
		for in.Scan() {
			var q int
			var src string
			fmt.Sscanf(in.Text(), "query %d %s", &q, &src)
			cs, err := ix.Query(t.Context(), person(q, src), 1)
			switch {
			case err != nil:
				fmt.Println("query:", err)
				os.Exit(3)
			case len(cs) == 0:
				fmt.Println("found -")
			default:
				fmt.Println("found", cs[0].Person)
			}
		}
	case "load":
		seq := func(yield func(match.Record, error) bool) {
			for i := range 1_000_000 {
				if !yield(person(i/2, []string{"gp", "hospital"}[i%2]), nil) {
					return
				}
			}
		}
		_, err := ix.Load(t.Context(), iter.Seq2[match.Record, error](seq), func(n int) { fmt.Println("ack", n) })
		if err != nil {
			fmt.Println("load:", err)
			os.Exit(3)
		}
	}
	os.Exit(0)
}

// TestTwoProcessesSameNewPerson: two Index instances, in two processes,
// over one database, add the same new person at once (each from its own
// source): there must be exactly one enterprise id.
func TestTwoProcessesSameNewPerson(t *testing.T) {
	s, schema := openStore(t, nil)
	defer s.Close()
	openIndex(t, s) // create the index
	for round := range 5 {
		n := 100 + round
		var ins []io.WriteCloser
		var outs []*bufio.Scanner
		for p := range 2 {
			_, in, out := helper(t, fmt.Sprintf("add:%s:%d:proc%d", schema, n, p))
			expectLine(t, out, "ready")
			ins, outs = append(ins, in), append(outs, out)
		}
		for _, in := range ins {
			fmt.Fprintln(in, "go")
		}
		var ids []string
		for _, out := range outs {
			ids = append(ids, expectLine(t, out, "person "))
		}
		require.Equal(t, ids[0], ids[1], "round %d: one person, one enterprise id", round)
		for _, in := range ins {
			in.Close()
		}
		// A third instance, opened afresh, holds both records under that
		// one person, and one person per round.
		ix := openIndex(t, s)
		p, err := ix.Person(t.Context(), ids[0])
		require.NoError(t, err)
		assert.ElementsMatch(t, []match.RecordRef{person(n, "proc0").Ref(), person(n, "proc1").Ref()}, p.Records,
			"round %d: neither process overwrote the other's membership", round)
		st, err := ix.Stats(t.Context())
		require.NoError(t, err)
		assert.Equal(t, round+1, st.Persons)
		assert.Equal(t, 2*(round+1), st.Records)
		var events int
		for _, err := range ix.Events(t.Context(), 0) {
			require.NoError(t, err)
			events++
		}
		assert.Equal(t, 2*(round+1), events, "one event per record added; none overwritten")
	}
}

// TestTwoInstancesConsistent: a record added through one Index is found
// through another over the same database on the next query, each catching
// up with the other's writes by itself, and a write through an instance
// that has not caught up yet (the fence refuses it) catches up and links to
// the person the other made.
func TestTwoInstancesConsistent(t *testing.T) {
	s1, schema := openStore(t, nil)
	defer s1.Close()
	s2, _ := openStore(t, &pgstore.Options{Schema: schema})
	defer s2.Close()
	insts := []*mpi.Index{openIndex(t, s1), openIndex(t, s2)}
	for i := range 20 {
		w, r := insts[i%2], insts[1-i%2]
		id, err := w.Add(t.Context(), person(i, "gp"))
		require.NoError(t, err)
		cs, err := r.Query(t.Context(), person(i, "hospital"), 1)
		require.NoError(t, err)
		require.NotEmpty(t, cs, "record %d added through one instance is found through the other", i)
		assert.Equal(t, id, cs[0].Person)
		id2, err := r.Add(t.Context(), person(i, "hospital"))
		require.NoError(t, err)
		assert.Equal(t, id, id2, "the other instance links to the person the first made")
		p, err := w.Person(t.Context(), id)
		require.NoError(t, err)
		assert.Len(t, p.Records, 2, "the first instance sees the second's record in its person")
	}
	// Writes through both in turn with no query between: each write finds
	// the other's.
	id, err := insts[0].Add(t.Context(), person(99, "gp"))
	require.NoError(t, err)
	id2, err := insts[1].Add(t.Context(), person(99, "hospital"))
	require.NoError(t, err)
	assert.Equal(t, id, id2)
}

// TestKillLoaderProcess kills a loading process with SIGKILL, then the
// server too, and checks after the restart that every acknowledged record
// is present.
func TestKillLoaderProcess(t *testing.T) {
	needServer(t)
	// A server of its own, since this test kills it.
	srv, err := pgtest.Start(t.Context(), &pgtest.Options{NoFsync: true})
	require.NoError(t, err)
	defer srv.Stop()
	schema := newSchema()
	s, err := pgstore.Open(t.Context(), srv.URL("postgres"), &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	openIndex(t, s)
	require.NoError(t, s.Close())
	cmd, _, out := helperOn(t, srv, "load:"+schema)
	acked := 0
	for acked < 1000 {
		v, err := strconv.Atoi(expectLine(t, out, "ack "))
		require.NoError(t, err)
		acked = v
	}
	require.NoError(t, cmd.Process.Kill())
	// Whatever the loader printed before it died was acknowledged too.
	for sc := out; sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked, _ = strconv.Atoi(v)
		}
	}
	cmd.Wait()
	require.NoError(t, srv.Kill())
	require.NoError(t, srv.Restart(t.Context()))

	s, err = pgstore.Open(t.Context(), srv.URL("postgres"), &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	ix := openIndex(t, s)
	for i := range acked {
		r := person(i/2, []string{"gp", "hospital"}[i%2])
		_, err := ix.PersonOf(t.Context(), r.Ref())
		require.NoError(t, err, "acknowledged record %d lost", i)
	}
	st, err := ix.Stats(t.Context())
	require.NoError(t, err)
	t.Logf("acknowledged %d, present %d", acked, st.Records)
	assert.GreaterOrEqual(t, st.Records, acked)
}
