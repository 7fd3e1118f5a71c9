// Package child starts the server processes of the runnable demos under
// examples/: the demo's own program, run again with an environment
// variable that makes it serve, which announces its address on its first
// line of output ("addr HOST:PORT") and stops when its standard input is
// closed.
package child

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Process is a started server process.
type Process struct {
	Addr  string    // the address it announced
	Cmd   *exec.Cmd // for its pid, and to kill it
	Stdin io.WriteCloser
}

// Start runs this program again with env added to the environment, and
// waits for the address it announces. what names it in errors.
func Start(what string, env ...string) (*Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s did not start: %q %v", what, line, err)
	}
	return &Process{Addr: addr, Cmd: cmd, Stdin: in}, nil
}
