//go:build !linux

package correlate

func adviseHuge[T any](s []T) {}
