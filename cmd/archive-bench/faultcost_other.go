//go:build !unix

package main

// faultCostUS is -1 where memory is not mapped with mmap.
func faultCostUS() float64 { return -1 }
