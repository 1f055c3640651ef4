package mpi

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/carelens/carelens/match"
)

// keyModel holds the JSON of the model an index scores with, so that a
// reopened index scores and blocks exactly as before.
var keyModel = []byte("m/model")

// saveModel writes m as the index's model.
func saveModel(tx Txn, m *match.Model) error {
	var buf bytes.Buffer
	if err := m.WriteJSON(&buf); err != nil {
		return err
	}
	return tx.Set(keyModel, buf.Bytes())
}

// loadModel decides the index's model: the one given, else the stored
// one, else none. Unless readOnly, the one given is saved when it differs
// from the stored one.
func loadModel(tx Txn, given *match.Model, readOnly bool) (*match.Model, error) {
	if given != nil {
		if err := given.Validate(); err != nil {
			return nil, fmt.Errorf("mpi: index model: %w", err)
		}
		if readOnly {
			return given, nil
		}
	}
	stored, err := tx.Get(keyModel)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if given != nil {
		var buf bytes.Buffer
		if err := given.WriteJSON(&buf); err != nil {
			return nil, err
		}
		if !bytes.Equal(buf.Bytes(), stored) {
			if err := tx.Set(keyModel, buf.Bytes()); err != nil {
				return nil, err
			}
		}
		return given, nil
	}
	if stored == nil {
		return nil, nil
	}
	m, err := match.ReadModel(bytes.NewReader(stored))
	if err != nil {
		return nil, fmt.Errorf("mpi: stored index model: %w", ErrCorrupt)
	}
	return m, nil
}
