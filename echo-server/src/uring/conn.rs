//! One connection of the io_uring loop: the bytes it received and owes, in order, and
//! whether it may receive more.
//!
//! What it owes is a queue of pieces, sent front first, one send in flight at a time (so
//! sends never overtake each other, and a short send is simply sent again from where it
//! stopped):
//! - [`Piece::Ring`]: bytes still in a ring buffer the kernel filled. The ring pieces at the
//!   front go in one sendmsg (a send, for one) without waiting (MSG_DONTWAIT), so a 32 KiB
//!   message received into two buffers leaves as one send, not two; each buffer goes
//!   back to the ring only once every byte of it was sent.
//! - [`Piece::Heap`]: bytes copied out of ring buffers once a send could not finish at once
//!   (the client is not reading): the connection is then *blocked*, its ring buffers go back
//!   at once (a client that never reads holds none of the ring other connections need), it
//!   stops receiving, and it sends the copy with a send that waits for room. When the copy
//!   is all out the memory is freed and receiving starts again.
//!
//! So a connection holds at most [`MAX_HELD`] ring buffers before it stops receiving, and a
//! blocked one about as much on the heap; an idle one holds nothing.

use std::collections::VecDeque;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};

use super::sys::{Uring, SEND_PIECES};
use crate::connection::CloseReason;

/// Ring buffers a connection may hold (received, not yet sent back) before it stops
/// receiving until it has sent them all: 64 KiB of 16 KiB buffers.
pub(crate) const MAX_HELD: usize = 4;

/// Where the connection's multishot receive stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recv {
    /// Not armed: nothing will arrive until it is.
    Off,
    /// Armed: completions come as bytes arrive.
    Armed,
    /// A cancel was pushed; its last completion has not come yet.
    Cancelling,
}

/// Received bytes not yet sent back, from `start` on.
#[derive(Debug)]
enum Piece {
    /// In ring buffer `bid`, bytes `start..end`.
    Ring { bid: u16, start: u32, end: u32 },
    /// On the heap. While a send of it is in flight the bytes are lent to the ring
    /// (`bytes` is empty here) and come back with its completion.
    Heap { bytes: Vec<u8>, start: usize },
}

/// An accepted connection and what it owes.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    /// Which connection of this slot this is: completions of an earlier one never match.
    pub(crate) generation: u32,
    queue: VecDeque<Piece>,
    /// The multishot receive.
    pub(crate) recv: Recv,
    /// A send is in flight (for the queue's front).
    pub(crate) sending: bool,
    /// A send could not finish at once: the queue is on the heap and receiving waits until
    /// it is all sent.
    pub(crate) blocked: bool,
    /// The peer's FIN arrived: once caught up, shut down the write side and close.
    pub(crate) eof: bool,
    /// Waiting in the loop's queue for a ring buffer to be free (its receive ended on
    /// ENOBUFS, or none was free when it was to be armed).
    pub(crate) starved: bool,
    /// Has waited for a ring buffer before: first waits are served first (`Starved`).
    pub(crate) waited: bool,
    /// In the loop's list of connections whose send goes out after this batch of
    /// completions (so everything the batch received leaves in one send).
    pub(crate) send_due: bool,
    /// Ending, for this reason, once no operation is in flight.
    pub(crate) closing: Option<CloseReason>,
    /// Loop clock (ms) of the last byte moved, for `--idle-timeout`.
    pub(crate) last_active_ms: u64,
}

impl Conn {
    /// A connection just accepted.
    pub(crate) fn new(stream: TcpStream, generation: u32, now_ms: u64) -> Conn {
        Conn {
            stream,
            generation,
            queue: VecDeque::new(),
            recv: Recv::Off,
            sending: false,
            blocked: false,
            eof: false,
            starved: false,
            waited: false,
            send_due: false,
            closing: None,
            last_active_ms: now_ms,
        }
    }

    /// The socket, for the operations the loop pushes.
    pub(crate) fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// The stream, to shut down its write side.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Whether it should be receiving: not after EOF, not while blocked, and, once it holds
    /// [`MAX_HELD`] ring buffers, not again until it has sent them all.
    pub(crate) fn wants_bytes(&self) -> bool {
        let room = match self.recv {
            Recv::Armed => self.queue.len() < MAX_HELD,
            Recv::Off | Recv::Cancelling => self.queue.is_empty(),
        };
        room && !self.eof && !self.blocked && self.closing.is_none()
    }

    /// Takes the `n` bytes the kernel received into ring buffer `bid` (ours now): queued as
    /// they are, or, while blocked, copied out behind the rest and the buffer given back.
    pub(crate) fn received(&mut self, ring: &mut Uring, bid: u16, n: u32) {
        if !self.blocked {
            self.queue.push_back(Piece::Ring {
                bid,
                start: 0,
                end: n,
            });
            return;
        }
        let bytes = ring.buffer(bid, 0, n).unwrap_or_default().to_vec();
        self.queue.push_back(Piece::Heap { bytes, start: 0 });
        ring.give(bid);
    }

    /// Whether it has bytes to send and no send in flight.
    pub(crate) fn owes(&self) -> bool {
        !self.sending && !self.queue.is_empty()
    }

    /// Pushes the send of the queue's front (with user data `data`): every ring piece at
    /// the front (up to [`SEND_PIECES`]) in one send, or one heap piece. Nothing when it
    /// [`owes`](Conn::owes) nothing.
    pub(crate) fn send_front(&mut self, ring: &mut Uring, data: u64) {
        if !self.owes() {
            return;
        }
        let fd = self.fd();
        match self.queue.front_mut() {
            None => return,
            Some(Piece::Ring { .. }) => {
                let mut pieces = [(0u16, 0u32, 0u32); SEND_PIECES];
                let mut count = 0;
                for piece in self.queue.iter().take(SEND_PIECES) {
                    let Piece::Ring { bid, start, end } = *piece else {
                        break;
                    };
                    pieces[count] = (bid, start, end);
                    count += 1;
                }
                ring.send_buffers(fd, &pieces[..count], data);
            }
            Some(Piece::Heap { bytes, start }) => {
                ring.send_owned(fd, std::mem::take(bytes), *start, data)
            }
        }
        self.sending = true;
    }

    /// A send completed having taken `n` bytes from the front (`lent`: the heap bytes it
    /// borrowed, back from the ring). Returns true when a ring piece is left part-sent: the
    /// client is not keeping up, and the connection should [`block`](Conn::block).
    pub(crate) fn sent(&mut self, ring: &mut Uring, mut n: usize, lent: Option<Vec<u8>>) -> bool {
        self.sending = false;
        if let Some(Piece::Heap { bytes, start }) = self.queue.front_mut() {
            if let Some(lent) = lent {
                *bytes = lent;
            }
            *start += n;
            if *start >= bytes.len() {
                self.queue.pop_front();
            }
            return false;
        }
        while let Some(Piece::Ring { bid, start, end }) = self.queue.front_mut() {
            let left = (*end - *start) as usize;
            if n < left {
                *start += n as u32;
                return true;
            }
            n -= left;
            ring.give(*bid);
            self.queue.pop_front();
            if n == 0 {
                break;
            }
        }
        false
    }

    /// Copies what it owes out of the ring (each buffer's bytes to an allocation of their
    /// own size, which the allocator reuses, rather than one that grows) and gives the ring
    /// buffers back, so a client that does not read holds none of the ring; receiving waits
    /// until it is all sent.
    pub(crate) fn block(&mut self, ring: &mut Uring) {
        for piece in self.queue.iter_mut() {
            if let Piece::Ring { bid, start, end } = *piece {
                let bytes = ring.buffer(bid, start, end).unwrap_or_default().to_vec();
                ring.give(bid);
                *piece = Piece::Heap { bytes, start: 0 };
            }
        }
        self.blocked = true;
    }

    /// Gives back its ring buffers (no operation may be in flight) and returns how many
    /// received bytes it never sent.
    pub(crate) fn release(self, ring: &mut Uring) -> u64 {
        let mut unsent = 0;
        for piece in self.queue {
            unsent += match piece {
                Piece::Ring { bid, start, end } => {
                    ring.give(bid);
                    u64::from(end - start)
                }
                Piece::Heap { bytes, start } => (bytes.len() - start) as u64,
            };
        }
        unsent
    }
}
