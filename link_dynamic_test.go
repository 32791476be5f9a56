//go:build uring_dynamic

package uring_test

const dynamicLink = true
