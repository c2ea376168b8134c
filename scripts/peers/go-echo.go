// Go peer: a goroutine per connection and io.Copy, as a typical Go user writes an echo
// server. io.Copy between TCP sockets uses splice on Linux. Go sets TCP_NODELAY by default;
// it is set again here so nobody loses to Nagle. Usage: go-echo [PORT|ADDR:PORT] (port 0: any
// free port; the address defaults to 127.0.0.1).
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
		if !strings.Contains(addr, ":") {
			addr = "127.0.0.1:" + addr
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-echo:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			// Back off as net/http does (5 ms doubling to 1 s), e.g. on EMFILE.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go func(c net.Conn) {
			defer c.Close()
			c.(*net.TCPConn).SetNoDelay(true)
			io.Copy(c, c)
		}(c)
	}
}
