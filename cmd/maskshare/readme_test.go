package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadmeWalkthrough follows the README's three-terminal walkthrough as
// written: it runs the README's shell blocks (each institution's keygen, the
// exchange of public keys, the configurations) and its terminal commands,
// and compares bank-a's result with the one the README shows; then it does
// the same with the optional CA.
func TestReadmeWalkthrough(t *testing.T) {
	bin := binary(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	walk := section(t, string(readme), "## Running it between machines", "### With a CA")
	withCA := section(t, string(readme), "### With a CA", "### Configuration fields")

	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "maskshare")); err != nil {
		t.Fatal(err)
	}
	// The README's port may be taken here.
	shell(t, dir, strings.ReplaceAll(shBlocks(t, walk), "127.0.0.1:7443", freeAddr(t)))
	commands := terminalCommands(t, walk)
	want := shownOutput(t, walk, "$ cat bank-a/result.csv")
	runTerminals(t, dir, commands)
	checkResult(t, dir, want)

	// The same with a CA, and "ca" added to every configuration.
	shell(t, dir, shBlocks(t, withCA))
	if !strings.Contains(withCA, `"ca": "ca.crt"`) {
		t.Fatal(`the CA paragraph no longer says to add "ca": "ca.crt"`)
	}
	for _, f := range []string{"coordinator/coordinator.json", "bank-a/bank-a.json", "bank-b/bank-b.json"} {
		path := filepath.Join(dir, f)
		var cfg map[string]any
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cfg["ca"] = "ca.crt"
		writeJSON(t, path, cfg)
	}
	for _, f := range []string{"bank-a/result.csv", "bank-b/result.csv"} {
		os.Remove(filepath.Join(dir, f))
	}
	runTerminals(t, dir, commands)
	checkResult(t, dir, want)
}

// section returns the part of s from the line starting with from up to the
// one starting with to.
func section(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, "\n"+from)
	j := strings.Index(s, "\n"+to)
	if i < 0 || j < i {
		t.Fatalf("README: no section %q before %q", from, to)
	}
	return s[i:j]
}

var shBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

func shBlocks(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for _, m := range shBlock.FindAllStringSubmatch(s, -1) {
		b.WriteString(m[1])
	}
	if b.Len() == 0 {
		t.Fatal("README: no sh blocks")
	}
	return b.String()
}

func shell(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README script: %v\n%s\nscript:\n%s", err, out, script)
	}
}

// terminalCommands returns the indented ./maskshare coordinator and party
// command lines.
func terminalCommands(t *testing.T, s string) [][]string {
	t.Helper()
	var cmds [][]string
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\n")
		if c, ok := strings.CutPrefix(line, "    ./maskshare "); ok && (strings.HasPrefix(c, "coordinator ") || strings.HasPrefix(c, "party ")) {
			cmds = append(cmds, strings.Fields(c))
		}
	}
	if len(cmds) != 3 || cmds[0][0] != "coordinator" {
		t.Fatalf("README: terminal commands %q", cmds)
	}
	return cmds
}

// shownOutput returns the indented lines that follow the line prompt.
func shownOutput(t *testing.T, s, prompt string) string {
	t.Helper()
	i := strings.Index(s, "    "+prompt+"\n")
	if i < 0 {
		t.Fatalf("README: no %q", prompt)
	}
	var out strings.Builder
	for line := range strings.Lines(s[i+len(prompt)+5:]) {
		l, ok := strings.CutPrefix(line, "    ")
		if !ok {
			break
		}
		out.WriteString(l)
	}
	return out.String()
}

// runTerminals runs the coordinator (for one session) and the parties.
func runTerminals(t *testing.T, dir string, cmds [][]string) {
	t.Helper()
	coord := start(t, dir, append(cmds[0], "--runs", "1")...)
	var parties []*proc
	for _, c := range cmds[1:] {
		parties = append(parties, start(t, dir, c...))
	}
	for i, p := range parties {
		if err := p.wait(t, time.Minute); err != nil {
			t.Fatalf("%q: %v\nstderr:\n%s\ncoordinator:\n%s", cmds[i+1], err, p.stderr, coord.stderr)
		}
	}
	if err := coord.wait(t, time.Minute); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, coord.stderr)
	}
}

func checkResult(t *testing.T, dir, want string) {
	t.Helper()
	for _, bank := range []string{"bank-a", "bank-b"} {
		got, err := os.ReadFile(filepath.Join(dir, bank, "result.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("%s/result.csv:\n%s\nthe README shows:\n%s", bank, got, want)
		}
	}
}
