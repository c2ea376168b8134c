//! An impaired link between two throwaway network namespaces: packets between them are
//! delayed, lost, reordered, duplicated or rate-limited on purpose, so a test can show the
//! client verifies every byte (and names every failure) over a path worse than loopback.
//!
//! This kernel has no netem (`CONFIG_NET_SCH_NETEM` is not set), so the link is made by
//! hand: each namespace gets one TUN device, its only way to the other's address, and a
//! relay thread of the test process reads every packet from one device and writes it to
//! the other after the [`Impairment`] has had its way with it. The addresses
//! ([`CLIENT_IP`], [`SERVER_IP`]) exist only inside the two namespaces.

mod relay;

use std::ffi::OsStr;
use std::io;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::netns::{ip, tag, Namespaces};
use crate::sys::open_tun;
use relay::Direction;

/// The client namespace's address, on its TUN device.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The server namespace's address, on its TUN device.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// What the relay does to the packets of each way, in this order: loses some, duplicates
/// some, rate-limits, delays, holds some back behind the next.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    /// The mean one-way delay.
    pub delay: Duration,
    /// Each packet's delay is `delay` ± up to this (uniform); a packet is never delivered
    /// before one read earlier, so jitter alone does not reorder.
    pub jitter: Duration,
    /// The share of packets lost.
    pub loss: f64,
    /// The share of packets held back and delivered right after the next one.
    pub reorder: f64,
    /// The share of packets delivered twice.
    pub duplicate: f64,
    /// A rate limit (bits per second): a token bucket of `burst` bytes; packets that find
    /// more than `queue` bytes waiting for tokens are dropped.
    pub rate_bits: Option<u64>,
    /// The token bucket's depth, in bytes.
    pub burst: usize,
    /// Most bytes waiting for tokens.
    pub queue: usize,
    /// Seeds the relay's generator: the same packets meet the same fate.
    pub seed: u64,
}

impl Impairment {
    /// A bad path: 20 ms ± 10 each way, 3% lost, 5% reordered, 1% duplicated.
    pub fn lossy(seed: u64) -> Impairment {
        Impairment {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(10),
            loss: 0.03,
            reorder: 0.05,
            duplicate: 0.01,
            rate_bits: None,
            burst: 0,
            queue: 0,
            seed,
        }
    }

    /// A slow path: 10 Mbit/s each way (a 64 KiB queue, drops beyond it) and 20 ms ± 10,
    /// nothing lost at random: the losses are the queue's.
    pub fn limited(seed: u64) -> Impairment {
        Impairment {
            loss: 0.0,
            reorder: 0.0,
            duplicate: 0.0,
            rate_bits: Some(10_000_000),
            burst: 16 * 1024,
            queue: 64 * 1024,
            ..Impairment::lossy(seed)
        }
    }
}

/// What the relay did, packets counted over both ways.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Packets read from either device.
    pub read: u64,
    /// Packets written to the other device (duplicates count twice).
    pub delivered: u64,
    /// Lost at random (or refused by the receiving device).
    pub lost: u64,
    /// Delivered twice.
    pub duplicated: u64,
    /// Held back behind the next.
    pub reordered: u64,
    /// Had to wait for the rate limit's tokens.
    pub shaped: u64,
    /// Dropped because a queue (the rate limit's, or the delay's) was full.
    pub overflowed: u64,
    /// Still on their way when the relay stopped.
    pub left: u64,
}

impl Counts {
    fn plus(self, o: Counts) -> Counts {
        Counts {
            read: self.read + o.read,
            delivered: self.delivered + o.delivered,
            lost: self.lost + o.lost,
            duplicated: self.duplicated + o.duplicated,
            reordered: self.reordered + o.reordered,
            shaped: self.shaped + o.shaped,
            overflowed: self.overflowed + o.overflowed,
            left: self.left + o.left,
        }
    }
}

/// Two namespaces joined by an impaired link, the relay running. Dropping it stops the
/// relay and deletes both namespaces (their devices go with the relay's files).
#[derive(Debug)]
pub struct ImpairedLink {
    relay: Option<JoinHandle<io::Result<[Counts; 2]>>>,
    stop: Arc<AtomicBool>,
    /// The client's namespace ([`CLIENT_IP`]).
    pub client_ns: String,
    /// The server's namespace ([`SERVER_IP`]).
    pub server_ns: String,
    /// Declared last: deleted once the relay has stopped.
    _namespaces: Namespaces,
}

impl ImpairedLink {
    /// Makes the namespaces `ef-imp-<pid>-<name>-c` and `-s`, a TUN device in each and the
    /// relay between them. `name` (at most 4 bytes) tells apart links of one test process.
    pub fn new(name: &str, imp: Impairment) -> Result<ImpairedLink, String> {
        if name.is_empty() || name.len() > 4 {
            return Err(format!("link name {name:?}: 1 to 4 bytes"));
        }
        let t = tag();
        let mut namespaces = Namespaces::default();
        let (client_ns, server_ns) = (
            format!("ef-imp-{t}-{name}-c"),
            format!("ef-imp-{t}-{name}-s"),
        );
        let mut tuns = Vec::new();
        for (ns, side, addr) in [(&client_ns, 'c', CLIENT_IP), (&server_ns, 's', SERVER_IP)] {
            namespaces.add(ns)?;
            // Made here, then moved: the relay's file keeps working across namespaces.
            let dev = format!("ef{name}{t}{side}");
            tuns.push(open_tun(&dev).map_err(|e| e.to_string())?);
            ip(&["link", "set", &dev, "netns", ns])?;
            let cidr = format!("{addr}/24");
            ip(&["-n", ns, "addr", "add", &cidr, "dev", &dev])?;
            ip(&["-n", ns, "link", "set", &dev, "up"])?;
        }
        let tuns: [std::fs::File; 2] = tuns.try_into().map_err(|_| "two TUN devices")?;
        let ways = [
            Direction::new(imp, imp.seed),
            Direction::new(imp, imp.seed.wrapping_add(1)),
        ];
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let relay = thread::Builder::new()
            .name("impaired-relay".into())
            .spawn(move || relay::run(tuns, ways, flag))
            .map_err(|e| format!("start the relay: {e}"))?;
        Ok(ImpairedLink {
            relay: Some(relay),
            stop,
            client_ns,
            server_ns,
            _namespaces: namespaces,
        })
    }

    /// `program` to be run in the client's namespace.
    pub fn in_client(&self, program: impl AsRef<OsStr>) -> Command {
        in_namespace(&self.client_ns, program)
    }

    /// `program` to be run in the server's namespace.
    pub fn in_server(&self, program: impl AsRef<OsStr>) -> Command {
        in_namespace(&self.server_ns, program)
    }

    /// Stops the relay; what it did, or why it failed.
    pub fn stop(mut self) -> Result<Counts, String> {
        self.halt()
    }

    fn halt(&mut self) -> Result<Counts, String> {
        self.stop.store(true, Ordering::Relaxed);
        let relay = self.relay.take().ok_or("the relay was stopped before")?;
        match relay.join() {
            Ok(Ok([a, b])) => Ok(a.plus(b)),
            Ok(Err(e)) => Err(format!("the relay failed: {e}")),
            Err(_) => Err("the relay panicked".into()),
        }
    }
}

impl Drop for ImpairedLink {
    fn drop(&mut self) {
        if self.relay.is_some() {
            let _ = self.halt();
        }
    }
}

/// `ip netns exec NS PROGRAM`: the program itself runs there (ip execs it, same pid).
fn in_namespace(ns: &str, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}
