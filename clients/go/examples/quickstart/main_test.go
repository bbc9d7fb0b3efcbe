package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// TestReadmeShowsThisProgram keeps the README's quickstart equal to main.go.
func TestReadmeShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	program, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- quickstart: examples/quickstart/main.go -->\n```go\n"
	_, block, found := strings.Cut(string(readme), marker)
	if !found {
		t.Fatalf("README.md has no %q", marker)
	}
	block, _, _ = strings.Cut(block, "```\n")
	if block != string(program) {
		t.Errorf("the README's quickstart differs from examples/quickstart/main.go:\n%s", block)
	}
}

// TestQuickstart runs the program against the live server in JOBSVC_SERVER.
func TestQuickstart(t *testing.T) {
	if os.Getenv("JOBSVC_SERVER") == "" {
		t.Skip("JOBSVC_SERVER is not set: no live jobsvc server to test against")
	}
	read, write, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = write
	main()
	os.Stdout = stdout
	_ = write.Close()
	var out bytes.Buffer
	if _, err := io.Copy(&out, read); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "JOB_STATE_SUCCEEDED go\n" {
		t.Errorf("printed %q", got)
	}
}
