package mpi_test

import (
	"testing"

	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/mpi/mpitest"
)

func TestMemoryStoreConformance(t *testing.T) {
	mpitest.RunStore(t, func(*testing.T) mpi.Store { return mpi.NewMemoryStore() })
}
