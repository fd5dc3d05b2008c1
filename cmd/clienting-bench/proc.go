package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// buildClienting compiles ./cmd/clienting of the module in moduleDir into
// outDir/name.
func buildClienting(ctx context.Context, moduleDir, outDir, name string) (string, error) {
	bin := filepath.Join(outDir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/clienting")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/clienting in %s: %w: %s", moduleDir, err, out)
	}
	return bin, nil
}

// buildRevision compiles ./cmd/clienting of git revision rev of the
// repository holding moduleDir into outDir: it checks rev out in a detached
// worktree under outDir, builds there and removes the worktree. It returns
// the binary and rev's abbreviated commit id.
func buildRevision(ctx context.Context, moduleDir, outDir, rev string) (bin, commit string, err error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", moduleDir}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return strings.TrimSpace(string(out)), nil
	}
	if commit, err = git("rev-parse", "--verify", "--short", rev+"^{commit}"); err != nil {
		return "", "", err
	}
	// the module may sit below the repository's top level
	sub, err := git("rev-parse", "--show-prefix")
	if err != nil {
		return "", "", err
	}
	tree := filepath.Join(outDir, "src-"+commit)
	if _, err := git("worktree", "add", "--detach", tree, commit); err != nil {
		return "", "", err
	}
	defer func() {
		if _, rerr := git("worktree", "remove", "--force", tree); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	bin, err = buildClienting(ctx, filepath.Join(tree, sub), outDir, "clienting-"+commit)
	return bin, commit, err
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run clienting-bench inside the clienting module (go env GOMOD is empty)")
	}
	return filepath.Dir(mod), nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// process is a running clienting subprocess.
type process struct {
	cmd     *exec.Cmd
	http    string // base URL of its HTTP server
	started time.Time
	done    chan error
}

func startClienting(bin string, args []string, httpAddr string, logTo io.Writer) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logTo, logTo
	p := &process{cmd: cmd, http: "http://" + httpAddr, done: make(chan error, 1)}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start clienting: %w", err)
	}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// exited reports whether the process is gone, with its exit error.
func (p *process) exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		if err == nil {
			err = errors.New("exited with status 0")
		}
		return true, err
	default:
		return false, nil
	}
}

// waitReady polls /readyz until it answers 200 and returns when it did.
func (p *process) waitReady(ctx context.Context, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.http+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		if gone, err := p.exited(); gone {
			return time.Time{}, fmt.Errorf("clienting exited before it was ready: %w", err)
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("clienting not ready after %s", timeout)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after timeout).
func (p *process) stop(timeout time.Duration) error {
	if gone, _ := p.exited(); gone {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("clienting did not stop within %s; killed", timeout)
	}
}

// cpuSeconds is utime+stime of the process so far.
func (p *process) cpuSeconds() (float64, error) { return cpuSecondsOf(p.cmd.Process.Pid) }

// cpuSecondsOf is utime+stime of process pid so far.
func cpuSecondsOf(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// the command name (field 2) may hold spaces: fields count from the
	// last ')'
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(ut+st) / clockTicks, nil
}

// statusKB returns a "VmXXX:" field of /proc/<pid>/status in bytes.
func (p *process) statusBytes(field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", p.cmd.Process.Pid, field)
}

// scrape is one reading of /metrics: series (name{labels}) to value.
type scrape map[string]float64

// scrape reads /metrics.
func (p *process) scrape(ctx context.Context) (scrape, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.http+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	out := scrape{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// since returns the growth of series from before to s; a name without
// labels sums all its series.
func (s scrape) since(before scrape, series string) float64 {
	if strings.HasSuffix(series, "}") {
		return s[series] - before[series]
	}
	var d float64
	for k, v := range s {
		if k == series || strings.HasPrefix(k, series+"{") {
			d += v - before[k]
		}
	}
	return d
}

// profile saves /debug/pprof/<name>?<query> to path.
func (p *process) profile(ctx context.Context, name, query, path string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.http+"/debug/pprof/"+name+"?"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/debug/pprof/%s: %s", name, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// hostCPU returns the busy and total jiffies of all CPUs (/proc/stat).
func hostCPU() (busy, total int64, err error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat: no cpu line")
	}
	for i, s := range f[1:min(len(f), 9)] { // user .. steal; guest is in user
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// loadAverage is the first field of /proc/loadavg.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
