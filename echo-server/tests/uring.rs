//! What only the io_uring loop (`--io uring`) has to show: its feature line, many
//! connections verified byte for byte by the real flood-client, short sends, and no need of
//! locked memory. Everything else it shares with epoll runs in server.rs and metrics.rs
//! against both loops.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use echo_server::stats::Snapshot;
use test_support::{
    bin, echo_roundtrip, flood_client, pattern, socket_count, stderr_of, wait_until, Spawned,
};

const URING: &[&str] = &["--io", "uring"];
const DEADLINE: Duration = Duration::from_secs(30);

fn final_stats(stdout: &str) -> Snapshot {
    let line = stdout.lines().last().expect("a JSON stats line");
    serde_json::from_str(line).expect("stats JSON")
}

/// The start-up line names what the loop uses of the kernel; without --io uring nothing of
/// io_uring is said.
#[test]
fn the_kernel_features_are_printed_at_start() {
    let server = Spawned::echo_server(URING);
    let data = Arc::new(pattern(1, 10_000));
    assert!(echo_roundtrip(server.addr, data.clone()) == *data);
    let stderr = server.stop().stderr;
    // The receive cap is optional: named with the rest from Linux 6.17, said missing before.
    let (cap, no_cap) = (
        "multishot recv cap, fast poll (Linux ",
        "; no multishot recv cap",
    );
    let expected = if hostkit::kernel::release_at_least((6, 17)) {
        cap
    } else {
        no_cap
    };
    assert!(
        stderr.contains(
            "echo-server: io_uring: multishot accept, multishot recv, buffer rings, single \
             issuer, defer taskrun, "
        ) && stderr.contains(expected),
        "{stderr}"
    );
    let epoll = Spawned::echo_server(&[]).stop().stderr;
    assert!(!epoll.contains("io_uring"), "{epoll}");
}

/// 2,000 connections, 64 KiB each, one 32 KiB chunk or eight of 8 KiB in flight:
/// flood-client verifies every byte of every connection (each has its own stream, so a
/// crossed buffer is caught), and the server's counters agree: in = out, every connection
/// closed by its peer.
#[test]
fn two_thousand_verified_connections_with_one_or_eight_chunks_in_flight() {
    for pacing in [&[][..], &["--window", "8", "--chunk", "8KiB"]] {
        let server = Spawned::echo_server(&[URING, &["--json"]].concat());
        let addr = server.addr.to_string();
        let flood = [&addr, "-c", "2000", "-b", "64KiB", "--timeout", "30s"];
        let out = flood_client(&[&flood[..], pacing].concat());
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{pacing:?}: {report}{}",
            stderr_of(&out)
        );
        let done = server.stop();
        assert!(done.status.success(), "{}", done.stderr);
        let s = final_stats(&done.stdout);
        assert_eq!(s.accepted, 2000, "{pacing:?}: {s:?}");
        assert_eq!(s.closed_by_peer, 2000, "{pacing:?}: {s:?}");
        assert_eq!(s.bytes_in, 2000 * 64 * 1024, "{pacing:?}: {s:?}");
        assert_eq!(s.bytes_out, s.bytes_in, "{pacing:?}: {s:?}");
    }
}

/// A client with a 4 KiB receive buffer that reads 1 KiB at a time while it writes 8 MiB:
/// the server's sends keep coming back short (or would block), so it resends the rest,
/// copies what it owes out of the ring and stops receiving until that is out; every byte
/// must come back once, in order. Four such clients at once share the loop.
#[test]
fn short_sends_to_slow_small_window_readers_keep_every_byte_in_order() {
    let server = Spawned::echo_server(&[URING, &["--json"]].concat());
    let size = 8 << 20;
    let clients: Vec<_> = (0..4u8)
        .map(|i| {
            let addr = server.addr;
            thread::spawn(move || {
                let data = Arc::new(pattern(i + 10, size));
                let socket =
                    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                        .expect("socket");
                socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
                socket.connect(&addr.into()).expect("connect");
                let stream = std::net::TcpStream::from(socket);
                stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
                let mut writer = stream.try_clone().expect("clone");
                let sent = data.clone();
                let sender = thread::spawn(move || {
                    for chunk in sent.chunks(100_003) {
                        writer.write_all(chunk).expect("write");
                    }
                    writer.shutdown(std::net::Shutdown::Write).expect("FIN");
                });
                let mut got = Vec::with_capacity(size);
                let mut small = [0u8; 1024];
                loop {
                    match (&stream).read(&mut small) {
                        Ok(0) => break,
                        Ok(n) => got.extend_from_slice(&small[..n]),
                        Err(e) => panic!("client {i}: echo stalled after {}: {e}", got.len()),
                    }
                }
                sender.join().expect("sender");
                assert_eq!(got.len(), size, "client {i}: echo length");
                let first_bad = got.iter().zip(data.iter()).position(|(a, b)| a != b);
                assert_eq!(first_bad, None, "client {i}: echo differs");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    let s = final_stats(&server.stop().stdout);
    assert_eq!(s.closed_by_peer, 4, "{s:?}");
    assert_eq!(s.bytes_in, 4 * size as u64, "{s:?}");
    assert_eq!(s.bytes_out, s.bytes_in, "{s:?}");
}

/// Writes 64 KiB chunks until the socket takes no more (bounded: a server that kept taking
/// bytes it never echoed fails here).
fn push(hog: &socket2::Socket) {
    let chunk = vec![5u8; 64 * 1024];
    let mut pushed = 0usize;
    loop {
        match (&*hog).write(&chunk) {
            Ok(n) => pushed += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("write: {e}"),
        }
        assert!(pushed < 256 << 20, "the server kept taking bytes");
    }
}

/// More clients that stop reading than the ring could serve if each kept the ring buffers
/// its bytes came in (80 × 4 held > 64 in the ring): each has a 4 KiB window, so once the
/// server has echoed into it (and pushed again) the server's sends to it cannot finish. A
/// blocked connection gives its ring buffers back, so a bystander still gets buffers and
/// its whole echo.
#[test]
fn clients_that_stop_reading_cannot_take_the_ring_from_the_others() {
    let server = Spawned::echo_server(URING);
    let pid = server.pid();
    let sockets = socket_count(pid);
    let hogs: Vec<socket2::Socket> = (0..80)
        .map(|_| {
            let hog = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            hog.set_recv_buffer_size(4096).expect("SO_RCVBUF");
            hog.connect(&server.addr.into()).expect("connect");
            hog.set_nonblocking(true).expect("nonblocking");
            push(&hog);
            hog
        })
        .collect();
    wait_until(DEADLINE, "every hog accepted", || {
        socket_count(pid) == sockets + hogs.len()
    });
    for hog in &hogs {
        wait_until(DEADLINE, "the server to echo into every hog", || {
            let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
            matches!(hog.peek(&mut byte), Ok(1))
        });
        push(hog); // Now the server's sends to it are stuck.
    }
    let data = Arc::new(pattern(2, 4 << 20));
    assert!(
        echo_roundtrip(server.addr, data.clone()) == *data,
        "bystander"
    );
    drop(hogs);
    assert!(server.stop().status.success());
}

/// The loop registers no buffers and since Linux 5.12 a ring is charged to the memory
/// cgroup, not RLIMIT_MEMLOCK: with a locked-memory limit of zero it starts and echoes, so
/// there is nothing for a preflight to check.
#[test]
fn a_zero_locked_memory_limit_does_not_matter() {
    let mut cmd = Command::new("prlimit");
    cmd.args(["--memlock=0:0", "--"])
        .arg(bin("echo-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(URING);
    let server = Spawned::start(cmd);
    let data = Arc::new(pattern(4, 1 << 20));
    assert!(echo_roundtrip(server.addr, data.clone()) == *data);
    assert!(server.stop().status.success());
}
