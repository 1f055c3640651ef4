package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/mpi/pgstore"
	"github.com/carelens/carelens/mpi/pgstore/pgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTwoServicesOnePostgres runs two $match services, each with its own
// index over one PostgreSQL database, as two instances behind a load
// balancer would. A record loaded through one instance's index is found by
// the other service on its next request, with the enterprise id the first
// gave it, and the other way round.
func TestTwoServicesOnePostgres(t *testing.T) {
	ctx := t.Context()
	srv, err := pgtest.Start(ctx, &pgtest.Options{NoFsync: true})
	if errors.Is(err, pgtest.ErrUnavailable) {
		pgtest.Unavailable(t, err)
	}
	require.NoError(t, err)
	defer srv.Stop()
	toks, err := ParseTokens([]byte("clinic-a " + testToken + "\n"))
	require.NoError(t, err)
	var ixs []*mpi.Index
	var hs []*Handler
	for range 2 {
		s, err := pgstore.Open(ctx, srv.URL("postgres"), &pgstore.Options{Schema: "twoservices"})
		require.NoError(t, err)
		defer s.Close()
		ix, err := mpi.OpenIndex(ctx, s, nil)
		require.NoError(t, err)
		ixs = append(ixs, ix)
		hs = append(hs, NewHandler(ix, &Options{Tokens: toks, Audit: slog.New(slog.DiscardHandler)}))
	}
	found := func(h *Handler) string {
		t.Helper()
		rec := post(t, h, strings.Replace(matchRequest, "%s", "", 1))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var b bundle
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
		if len(b.Entry) == 0 {
			return ""
		}
		return identifiers(b.Entry[0].Resource)[PersonSystem]
	}
	require.Empty(t, found(hs[1]), "nothing loaded yet")
	p, err := ixs[0].Add(ctx, testRecords[0])
	require.NoError(t, err)
	assert.Equal(t, p, found(hs[1]), "loaded through instance 0, found by service 1")

	// The hospital's record, loaded through instance 1, joins the same
	// person; service 0 finds that person by the hospital's record alone.
	p1, err := ixs[1].Add(ctx, testRecords[1])
	require.NoError(t, err)
	assert.Equal(t, p, p1)
	person, err := ixs[0].Person(ctx, p)
	require.NoError(t, err)
	assert.ElementsMatch(t, []match.RecordRef{testRecords[0].Ref(), testRecords[1].Ref()}, person.Records)
	assert.Equal(t, p, found(hs[0]))
}
