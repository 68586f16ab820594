//go:build !linux

package main

func releaseStartupPages() uintptr { return 0 }
