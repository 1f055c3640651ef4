// Package match decides which demographic records, from one source or many,
// are the same person, and says why.
//
// (The package comment is completed as the matcher lands.)
package match
