package store

var helperDir string
