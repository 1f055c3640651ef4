// Package merge turns the per-source clinical records of one person into one
// timeline in which every item keeps its sources.
//
// (The package comment is completed as the merger lands.)
package merge
