package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// redisStartTimeout bounds the wait for a private redis-server to answer
	// PING, which includes loading its data files after a restart.
	redisStartTimeout = 30 * time.Second
	// redisStopTimeout is how long stop waits after SIGTERM before SIGKILL.
	redisStopTimeout = 10 * time.Second
	// redisStartAttempts: a free port can be taken by someone else between
	// choosing it and redis-server binding it; the first start then tries
	// another port.
	redisStartAttempts = 3
	// redisLogTail is how much of the server's log a failure shows.
	redisLogTail = 4 << 10
)

// StartRedis starts a redis-server of the test's own on a free loopback port
// and returns its address (host:port) with two controls:
//
//   - stop shuts it down (SIGTERM, SIGKILL after 10 s); calling it again,
//     or after the test, does nothing.
//   - restart kills it with SIGKILL, as a crash or an OOM kill would, and
//     starts it again on the same port, with the same data directory and
//     arguments; it returns once the server answers PING, so after loading
//     whatever it persisted. It also starts a stopped server.
//
// Use it for tests that need a Redis to fail or lose data, which the shared
// server of [Redis] must not do. The server gets --port, --bind 127.0.0.1,
// --daemonize no and --dir (a directory of tb.TempDir), then args, which
// should not change those. Without args it runs with redis-server's
// defaults (RDB snapshots now and then, no AOF), so say what persistence the
// test means, e.g.
//
//	StartRedis(t, "--save", "", "--appendonly", "no")                               // loses everything on restart
//	StartRedis(t, "--save", "", "--appendonly", "yes", "--appendfsync", "always") // keeps every acknowledged write
//
// The server is stopped when the test ends; it is also killed if the test
// binary dies first (Linux). stop and restart fail the test on error and
// must be called from the test's goroutine. When redis-server is not
// installed the test is skipped, or fails in an integration run ([Required]).
func StartRedis(tb testing.TB, args ...string) (addr string, stop func(), restart func()) {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if Required() {
			tb.Fatalf("testenv: redis-server not found (run scripts/deps.sh): %v", err)
		}
		tb.Skipf("testenv: redis-server not found (run scripts/deps.sh): %v", err)
	}
	dir := tb.TempDir()
	s := &redisServer{
		bin:     bin,
		dir:     dir,
		logPath: filepath.Join(dir, "redis.log"),
		args:    args,
	}
	var errs []error
	for range redisStartAttempts {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("testenv: StartRedis: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = s.start(); err == nil {
			break
		}
		errs = append(errs, err)
	}
	if len(errs) == redisStartAttempts {
		tb.Fatalf("testenv: StartRedis: %v", errors.Join(errs...))
	}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("testenv: stop redis-server at %s: %v", s.addr, err)
		}
		if tb.Failed() {
			tb.Logf("testenv: log of redis-server at %s:\n%s", s.addr, s.logTail())
		}
	})
	stop = func() {
		tb.Helper()
		if err := s.stop(); err != nil {
			tb.Fatalf("testenv: stop redis-server at %s: %v", s.addr, err)
		}
	}
	restart = func() {
		tb.Helper()
		if err := s.restart(); err != nil {
			tb.Fatalf("testenv: restart redis-server at %s: %v", s.addr, err)
		}
	}
	return s.addr, stop, restart
}

// redisServer is one redis-server process of StartRedis, and its successors
// after restarts.
type redisServer struct {
	bin, dir, logPath, addr string
	args                    []string

	mu   sync.Mutex
	cmd  *exec.Cmd     // nil when not running
	done chan struct{} // closed when cmd has exited
}

// start runs redis-server and waits until it answers PING.
func (s *redisServer) start() error {
	_, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	args := append([]string{
		"--port", port, "--bind", "127.0.0.1", "--daemonize", "no", "--dir", s.dir,
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	// An *os.File is handed to the child as it is: no copying goroutine,
	// so Wait returns as soon as the process exits.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()
	err = cmd.Start()
	_ = logFile.Close() // the child has its own descriptor
	if err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(redisStartTimeout)
	for {
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("redis-server on %s exited during start-up (%s):\n%s", s.addr, cmd.ProcessState, s.logTail())
		default:
		}
		err := pingRedis(s.addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on %s not ready within %s: %w\n%s", s.addr, redisStartTimeout, err, s.logTail())
		}
		time.Sleep(pollInterval)
	}
}

// stop ends the server with SIGTERM, or SIGKILL when it has not exited
// within redisStopTimeout.
func (s *redisServer) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-s.done:
		s.cmd = nil
		return nil
	case <-time.After(redisStopTimeout):
	}
	s.kill()
	return fmt.Errorf("ignored SIGTERM for %s, killed", redisStopTimeout)
}

// restart kills the server, if it runs, and starts it again.
func (s *redisServer) restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
	return s.start()
}

// kill sends SIGKILL and waits for the process to exit. Call with mu held,
// or before the server is shared.
func (s *redisServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill() // fails only when it has already exited
	<-s.done
	s.cmd = nil
}

// logTail returns the end of the server's log.
func (s *redisServer) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > redisLogTail {
		b = b[len(b)-redisLogTail:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// pingRedis sends PING and expects +PONG. A server that is still loading its
// data answers -LOADING, which is an error here.
func pingRedis(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}
