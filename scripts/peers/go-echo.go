// Go peer: a goroutine per connection and io.Copy, as a typical Go user writes an echo
// server. io.Copy between TCP sockets uses splice on Linux. Go sets TCP_NODELAY by default;
// it is set again here so nobody loses to Nagle. Usage: go-echo [PORT] (0: any free port).
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	port := "0"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
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
