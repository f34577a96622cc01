//! The ring flavor: a bounded MPMC queue in a fixed array of slots, for capacity ≥ 1.
//!
//! This is Dmitry Vyukov's bounded MPMC queue, as crossbeam-channel's array flavor uses
//! it: every slot carries a *stamp* saying which lap may use it next and for what, so
//! producers and consumers claim slots with one compare-and-swap on `tail` or `head` and
//! never touch a lock. On top of it: claiming several adjacent slots with one
//! compare-and-swap (the batch operations), a close bit, and parking through
//! [`SyncWaker`].
//!
//! ## Stamps
//!
//! `head` and `tail` are stamps `lap | mark | index`: `index` (below `mark_bit`) is a slot
//! position, `mark_bit` (a power of two above every index) is set in `tail` once the
//! channel is closed, and the bits from `one_lap = 2 * mark_bit` up count laps. A slot's
//! own stamp is `tail` when it is free for the producer holding that `tail`, and
//! `head + 1` when it holds a value for the consumer holding that `head`; taking the
//! value sets it to `head + one_lap`, the position one lap later.
//!
//! ## Holes
//!
//! A [`Select`](crate::Select) claims a slot when it selects a send, and fills it when
//! its `SelectedOperation` completes. One dropped unfinished leaves a *hole*: the stamp
//! `tail + 1` with `mark_bit` set (a slot's stamp never has it otherwise, as every index
//! is below it). Senders see a hole as an occupied slot; the receiver that reaches it
//! moves `head` past it, frees it and carries on, as if it had taken a value.

use core::fmt;
use core::mem::{self, MaybeUninit};
use std::collections::VecDeque;

use crossbeam_utils::CachePadded;
use patterns_core::Backoff;

use crate::channel::MAX_CAPACITY;
use crate::context::{Context, Operation, Selected, Side, Spin};
use crate::error::CapacityError;
use crate::sync::atomic::{self, AtomicUsize, Ordering};
use crate::sync::UnsafeCell;
use crate::wait::{Failure, Wait};
use crate::waker::SyncWaker;

/// The farthest past its own slot a blocked sender looks for a freed slot before it
/// retries (`Array::await_room`): with 16-byte slots, sixteen cache lines. Measured at
/// capacity 1024 against 16 and 256: 64 and 256 alike, both 15–20% faster than 16 with
/// one producer and one consumer, 6% with 4×4, and the same with 4×1 and 8×8.
const ROOM_LIMIT: usize = 64;

struct Slot<T> {
    /// See the module docs: which lap and side may use the slot next.
    stamp: AtomicUsize,
    /// Initialized exactly while the stamp says the slot holds a value.
    msg: UnsafeCell<MaybeUninit<T>>,
}

/// What a claim on slots found.
enum Claim {
    /// `count` adjacent slots from `index`, the first of them at position `stamp`.
    Got {
        index: usize,
        stamp: usize,
        count: usize,
    },
    /// Full (for senders) or empty (for receivers), and not closed: the slot at position
    /// `at` was not ready (a blocked sender waits for room from there).
    WouldBlock { at: usize },
    /// Closed: for senders at once, for receivers once the queue is drained.
    Closed,
}

/// What a select's try found on a ring.
pub(crate) enum Ready {
    /// A slot claimed for the operation.
    Slot(SlotClaim),
    Closed,
}

/// One slot a select claimed, to fill or empty once its operation completes (or to give
/// up, see `Array::abandon`). Deliberately neither `Copy` nor `Clone`: a claim is used once.
#[derive(Debug)]
pub(crate) struct SlotClaim {
    index: usize,
    stamp: usize,
}

/// How sure a claim that finds its next slot not ready must be before it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// Tell a full ring from one whose next slot a receiver is still emptying, and an
    /// empty ring from one whose next slot a sender is still filling — a fence and a read
    /// of the other side's cursor — and retry in the second case. Only this sees that an
    /// empty ring is closed. What `try_send` and `try_recv` report, and what decides
    /// whether a blocked operation parks.
    Exact,
    /// Give up at once: for a blocked operation that backs off and retries either way.
    /// Reading the other side's cursor would take that side's cache line from it while it
    /// is the one making progress (at capacity 1, on every retry).
    Waiting,
}

pub(crate) struct Array<T> {
    /// The next position to read from (a stamp; see the module docs).
    head: CachePadded<AtomicUsize>,
    /// The next position to write to, with the close bit (a stamp).
    tail: CachePadded<AtomicUsize>,
    buffer: Box<[Slot<T>]>,
    cap: usize,
    /// A power of two above every index: set in `tail` when closed.
    mark_bit: usize,
    /// Added to a stamp to move it one lap on.
    one_lap: usize,
    /// How many slots past its own a sender blocked on a full ring waits to see freed
    /// before it retries (see `await_room`); 0 for a plain retry.
    room: usize,
    /// Senders parked on a full queue.
    senders: SyncWaker,
    /// Receivers parked on an empty queue.
    receivers: SyncWaker,
}

impl<T> Array<T> {
    /// The largest capacity a ring of `T` can have: `MAX_CAPACITY` (the stamps' limit),
    /// or fewer if that many slots would not fit in `isize::MAX` bytes.
    pub(crate) fn max_capacity() -> usize {
        let slot = mem::size_of::<Slot<T>>();
        MAX_CAPACITY.min(isize::MAX as usize / slot)
    }

    /// A ring of `cap >= 1` slots, allocated up front.
    ///
    /// Fails, instead of panicking or aborting as a plain allocation would, if the slots
    /// cannot be laid out or allocated: a capacity is often configuration, read at run
    /// time.
    pub(crate) fn try_new(cap: usize) -> Result<Self, CapacityError> {
        debug_assert!(cap >= 1);
        let max = Self::max_capacity();
        if cap > max {
            return Err(CapacityError::TooLarge { capacity: cap, max });
        }
        let mut buffer = Vec::new();
        buffer
            .try_reserve_exact(cap)
            .map_err(|_| CapacityError::OutOfMemory {
                capacity: cap,
                bytes: cap * mem::size_of::<Slot<T>>(),
            })?;
        buffer.extend((0..cap).map(|i| Slot {
            stamp: AtomicUsize::new(i),
            msg: UnsafeCell::new(MaybeUninit::uninit()),
        }));
        let mark_bit = (cap + 1).next_power_of_two();
        Ok(Array {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            buffer: buffer.into_boxed_slice(),
            cap,
            mark_bit,
            one_lap: mark_bit * 2,
            room: ((cap - 1) / 2).min(ROOM_LIMIT),
            senders: SyncWaker::new(),
            receivers: SyncWaker::new(),
        })
    }

    /// Claims up to `want` adjacent free slots (never wrapping past the end of the buffer).
    #[inline]
    fn claim_send(&self, want: usize, probe: Probe) -> Claim {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                return Claim::Closed;
            }
            let index = tail & (self.mark_bit - 1);
            let stamp = self.buffer[index].stamp.load(Ordering::Acquire);
            if stamp == tail {
                match self.claim_run(&self.tail, tail, want, 0) {
                    Ok(claim) => return claim,
                    Err(current) => {
                        tail = current;
                        backoff.spin();
                    }
                }
            } else if (stamp & !self.mark_bit).wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds last lap's value (or a hole): full, unless a
                // receiver has claimed it and is reading right now.
                if probe == Probe::Waiting {
                    return Claim::WouldBlock { at: tail };
                }
                atomic::fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Claim::WouldBlock { at: tail };
                }
                backoff.spin();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another sender claimed this position and has not moved `tail` yet.
                backoff.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Having found the slot at position `pos` ready — its stamp reads `pos + ready`: 0 for
    /// a sender, 1 for a receiver — counts the ready slots from it, up to `want` and not past
    /// the buffer's end, and moves `cursor` (`tail` or `head`) past them with one
    /// compare-and-swap. `Err` is the cursor's value if another thread moved it first.
    #[inline]
    fn claim_run(
        &self,
        cursor: &AtomicUsize,
        pos: usize,
        want: usize,
        ready: usize,
    ) -> Result<Claim, usize> {
        let index = pos & (self.mark_bit - 1);
        let limit = want.min(self.cap - index);
        let mut count = 1;
        while count < limit
            && self.buffer[index + count].stamp.load(Ordering::Acquire) == pos + count + ready
        {
            count += 1;
        }
        cursor
            .compare_exchange_weak(
                pos,
                self.advance(pos, count),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .map(|_| Claim::Got {
                index,
                stamp: pos,
                count,
            })
    }

    /// The position `n <= cap` places after `pos`, wrapping to the next lap past the end.
    #[inline]
    fn advance(&self, pos: usize, n: usize) -> usize {
        let index = pos & (self.mark_bit - 1);
        if index + n < self.cap {
            pos + n
        } else {
            let lap = pos & !(self.one_lap - 1);
            lap.wrapping_add(self.one_lap) + (index + n - self.cap)
        }
    }

    /// Claims up to `want` adjacent slots holding values (never wrapping past the end).
    #[inline]
    fn claim_recv(&self, want: usize, probe: Probe) -> Claim {
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let index = head & (self.mark_bit - 1);
            let stamp = self.buffer[index].stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                match self.claim_run(&self.head, head, want, 1) {
                    Ok(claim) => return claim,
                    Err(current) => {
                        head = current;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                // The slot is free: empty, unless a sender has claimed it and is writing.
                if probe == Probe::Waiting {
                    return Claim::WouldBlock { at: head };
                }
                atomic::fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if tail & !self.mark_bit == head {
                    return if tail & self.mark_bit != 0 {
                        Claim::Closed
                    } else {
                        Claim::WouldBlock { at: head }
                    };
                }
                backoff.spin();
                head = self.head.load(Ordering::Relaxed);
            } else if stamp == (head + 1) | self.mark_bit {
                self.skip_hole(head);
                head = self.head.load(Ordering::Relaxed);
            } else {
                // Another receiver claimed this position and has not moved `head` yet.
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Moves `head` past the hole at position `head` and frees its slot (see *Holes*),
    /// unless another receiver does so first.
    #[cold]
    fn skip_hole(&self, head: usize) {
        let next = self.advance(head, 1);
        if self
            .head
            .compare_exchange(head, next, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
        {
            let slot = &self.buffer[head & (self.mark_bit - 1)];
            slot.stamp
                .store(head.wrapping_add(self.one_lap), Ordering::Release);
            self.senders.notify(1);
        }
    }

    /// Fills claimed slots from the front of `values`, publishes them, wakes receivers.
    fn fill(&self, index: usize, stamp: usize, count: usize, values: &mut VecDeque<T>) {
        debug_assert!(values.len() >= count);
        for (i, msg) in values.drain(..count).enumerate() {
            let slot = &self.buffer[index + i];
            // SAFETY: the compare-and-swap in `claim_send` gave this thread alone the
            // slot at position `stamp + i`, which holds no value (its stamp said free), and
            // no one reads it until the stamp below says so. Covered by the loom models
            // `send_recv_capacity_1` and `batch_send_recv`.
            slot.msg.with_mut(|p| unsafe { (*p).write(msg) });
            slot.stamp.store(stamp + i + 1, Ordering::Release);
        }
        self.receivers.notify(count);
    }

    /// Writes one value into a claimed slot, publishes it, wakes a receiver.
    #[inline]
    fn fill_one(&self, index: usize, stamp: usize, msg: T) {
        let slot = &self.buffer[index];
        // SAFETY: as in `fill`: the claim made this thread the slot's only writer, the slot
        // is empty, and readers wait for the stamp stored next.
        slot.msg.with_mut(|p| unsafe { (*p).write(msg) });
        slot.stamp.store(stamp + 1, Ordering::Release);
        self.receivers.notify(1);
    }

    /// Moves the values out of claimed slots into `out`, which has room for them (so
    /// nothing here can panic), frees the slots, wakes senders.
    fn drain_into(&self, index: usize, stamp: usize, count: usize, out: &mut Vec<T>) {
        debug_assert!(out.capacity() - out.len() >= count);
        out.extend((0..count).map(|i| {
            let slot = &self.buffer[index + i];
            // SAFETY: the compare-and-swap in `claim_recv` gave this thread alone the slot
            // at position `stamp + i`, whose stamp said it holds an initialized value;
            // reading it moves the value out, and the stamp below hands the slot, now
            // logically empty, to the next lap's sender. Covered by the loom models
            // `send_recv_capacity_1` and `batch_send_recv`.
            let msg = slot.msg.with(|p| unsafe { (*p).assume_init_read() });
            slot.stamp.store(
                stamp.wrapping_add(i).wrapping_add(self.one_lap),
                Ordering::Release,
            );
            msg
        }));
        self.senders.notify(count);
    }

    /// Takes the value out of one claimed slot, frees it, wakes a sender.
    #[inline]
    fn take_one(&self, index: usize, stamp: usize) -> T {
        let slot = &self.buffer[index];
        // SAFETY: as in `drain_into`: the claim made this thread the slot's only reader and
        // the stamp said it holds an initialized value, moved out exactly once here.
        let msg = slot.msg.with(|p| unsafe { (*p).assume_init_read() });
        slot.stamp
            .store(stamp.wrapping_add(self.one_lap), Ordering::Release);
        self.senders.notify(1);
        msg
    }

    #[inline]
    pub(crate) fn try_send(&self, msg: T) -> Result<(), (T, Failure)> {
        match self.claim_send(1, Probe::Exact) {
            Claim::Got { index, stamp, .. } => {
                self.fill_one(index, stamp, msg);
                Ok(())
            }
            Claim::WouldBlock { .. } => Err((msg, Failure::WouldBlock)),
            Claim::Closed => Err((msg, Failure::Closed)),
        }
    }

    pub(crate) fn send(&self, msg: T, wait: Wait<'_>) -> Result<(), (T, Failure)> {
        let mut msg = msg;
        loop {
            msg = match self.try_send_spinning(msg) {
                Err((msg, Failure::WouldBlock)) => msg,
                done => return done,
            };
            if let Some(interrupt) = wait.interrupted() {
                return Err((msg, Failure::Interrupted(interrupt)));
            }
            self.park(Side::Senders, wait);
        }
    }

    /// A send that backs off and retries for a short while before giving up, waiting for
    /// room (`await_room`) between tries.
    ///
    /// The back-off is [`backoff`](Self::backoff)'s, as for every wait on the ring.
    fn try_send_spinning(&self, msg: T) -> Result<(), (T, Failure)> {
        let backoff = self.backoff();
        loop {
            let probe = Self::probe_while(&backoff);
            match self.claim_send(1, probe) {
                Claim::Got { index, stamp, .. } => {
                    self.fill_one(index, stamp, msg);
                    return Ok(());
                }
                Claim::Closed => return Err((msg, Failure::Closed)),
                Claim::WouldBlock { at } if probe == Probe::Waiting => {
                    self.await_room(at, &backoff)
                }
                Claim::WouldBlock { .. } => return Err((msg, Failure::WouldBlock)),
            }
        }
    }

    /// How a blocked operation on this ring backs off before it parks: [`Backoff::brief`]
    /// where a sender has room to wait for (see [`await_room`](Self::await_room)), the
    /// longer [`Backoff::new`] on a ring of 1 or 2 slots.
    ///
    /// On a large ring a blocked sender waits for a receiver to run, and with more threads
    /// than cores the spins left out are time that receiver gets: measured on 2 cores
    /// against the longer spin, up to a third faster at capacity 1024 (1×1 and 8×8), and
    /// `worker-pool`'s submitters blocked on a full queue a sixth faster. On a ring of one
    /// or two slots every value is a hand-off, and the other side is usually a few hundred
    /// nanoseconds from making room: the brief spin gave up and yielded or parked just
    /// before, and on 2026-12-04 (2-core AMD EPYC, three interleaved rounds of prebuilt
    /// binaries) `spsc` at capacity 1 took 34.7–47.7 ms per 100k with it against
    /// 19.5–20.4 ms with the longer spin, which at capacity 1024 was 5–20% slower. A
    /// rendezvous keeps the long spin too (`Context::wait_until`), for the same reason.
    #[inline]
    fn backoff(&self) -> Backoff {
        if self.room == 0 {
            Backoff::new()
        } else {
            Backoff::brief()
        }
    }

    /// Backs off a sender that found the ring full at `tail`: until the receivers have
    /// freed the slot `room` places past it (so, freeing in order, `room + 1` slots), or
    /// `backoff` completes.
    ///
    /// Retrying as soon as one slot is free keeps a fast sender on the receivers' heels:
    /// it refills each slot the moment it is freed, so the two sides keep writing the
    /// same cache lines, and every probe of a full ring reads the line a receiver is about
    /// to write. Waiting for a stretch of free slots lets the receivers run ahead; the
    /// sender then fills the stretch on lines nobody else is using. Measured on 2 cores,
    /// 1M `u64`, capacity 1024: 16–25 ns per value in every shape (1×1 to 8×8) against
    /// 90–110 retrying at once, and crossbeam's 25–140. The stretch is about half the
    /// ring, and ends at most [`ROOM_LIMIT`] slots on, so that a small ring does not idle
    /// its senders until it is empty. Capacities 1 and 2 keep the plain retry: polling the
    /// sender's own slot instead measured 25–60% slower at capacity 1 (the poll takes
    /// the line from the receiver about to write it; a slot further on is one the
    /// receivers have not reached yet).
    ///
    /// Only the spinning phase waits so: a parked sender is woken when one slot is freed,
    /// and this wait ends when `backoff` does, so a sender never blocks for room that may
    /// not come (a receiver that stopped after one value). Nor does it look at `tail`: a
    /// close is seen at the next claim.
    #[inline]
    fn await_room(&self, tail: usize, backoff: &Backoff) {
        if self.room == 0 {
            backoff.snooze();
            return;
        }
        let pos = self.advance(tail, self.room);
        let slot_stamp = &self.buffer[pos & (self.mark_bit - 1)].stamp;
        loop {
            backoff.snooze();
            // The slot is free for position `pos` once its stamp has reached `pos`
            // (stamps only grow; compared wrapping, as they count laps).
            let stamp = slot_stamp.load(Ordering::Relaxed) & !self.mark_bit;
            let freed = pos.wrapping_sub(stamp) as isize <= 0;
            if freed || backoff.is_completed() {
                return;
            }
        }
    }

    /// How a blocked operation probes while `backoff` lasts: loosely, then exactly before
    /// it parks (callers match on the probe they used, so only an exact `WouldBlock`
    /// leads to parking). A receiver waiting on an empty ring so sees a close only when
    /// its back-off ends: a few microseconds, longer when its yields let other threads
    /// run. Measured on 2 cores (100k `u64`, criterion) against probing exactly
    /// throughout: blocked senders so, 15–20% faster at capacity 1024 and 5–12% at
    /// capacity 1; blocked receivers too, capacity 1 another 1.6× faster (1×1, 4×4 and
    /// 8×8) and 1024 unchanged.
    fn probe_while(backoff: &Backoff) -> Probe {
        if backoff.is_completed() {
            Probe::Exact
        } else {
            Probe::Waiting
        }
    }

    /// Parks on `side` until a peer makes progress, the channel closes, or `wait` runs
    /// out; the caller then retries its operation.
    // Out of line: the send and receive loops stay small enough to be inlined into the
    // caller's hot path (measured: inlined, SPSC at capacity 1024 ran 30–60% slower).
    #[cold]
    #[inline(never)]
    fn park(&self, side: Side, wait: Wait<'_>) {
        Context::with(|cx| {
            let oper = Operation::hook(cx);
            if !self.register(side, oper, cx) {
                return; // ready just now: retry at once
            }
            if cx.wait_until(wait, Spin::Never, None) != Selected::Operation(oper) {
                self.unregister(side, oper);
            }
        });
    }

    /// Registers a waiting operation on `side`, then re-checks the channel: if the
    /// operation could proceed now (or would fail closed), unregisters it again and
    /// returns false.
    pub(crate) fn register(&self, side: Side, oper: Operation, cx: &Context) -> bool {
        self.waker(side).register(oper, cx);
        let ready = self.is_closed()
            || match side {
                Side::Senders => !self.is_full(),
                Side::Receivers => !self.is_empty(),
            };
        if ready {
            self.unregister(side, oper);
        }
        !ready
    }

    /// Removes a registered operation that was not selected.
    pub(crate) fn unregister(&self, side: Side, oper: Operation) {
        self.waker(side).unregister(oper);
    }

    fn waker(&self, side: Side) -> &SyncWaker {
        match side {
            Side::Senders => &self.senders,
            Side::Receivers => &self.receivers,
        }
    }

    /// Sends every value of `values` in order, claiming as many slots per compare-and-swap
    /// as are free, and blocking while none is. On failure the unsent values stay in
    /// `values`.
    pub(crate) fn send_many(
        &self,
        values: &mut VecDeque<T>,
        wait: Wait<'_>,
    ) -> Result<(), Failure> {
        let backoff = self.backoff();
        while !values.is_empty() {
            let probe = Self::probe_while(&backoff);
            match self.claim_send(values.len(), probe) {
                Claim::Got {
                    index,
                    stamp,
                    count,
                } => {
                    self.fill(index, stamp, count, values);
                    backoff.reset();
                }
                Claim::Closed => return Err(Failure::Closed),
                Claim::WouldBlock { at } if probe == Probe::Waiting => {
                    self.await_room(at, &backoff)
                }
                Claim::WouldBlock { .. } => {
                    if let Some(interrupt) = wait.interrupted() {
                        return Err(Failure::Interrupted(interrupt));
                    }
                    self.park(Side::Senders, wait);
                    backoff.reset();
                }
            }
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, Failure> {
        match self.claim_recv(1, Probe::Exact) {
            Claim::Got { index, stamp, .. } => Ok(self.take_one(index, stamp)),
            Claim::WouldBlock { .. } => Err(Failure::WouldBlock),
            Claim::Closed => Err(Failure::Closed),
        }
    }

    pub(crate) fn recv(&self, wait: Wait<'_>) -> Result<T, Failure> {
        loop {
            let backoff = self.backoff();
            loop {
                let probe = Self::probe_while(&backoff);
                match self.claim_recv(1, probe) {
                    Claim::Got { index, stamp, .. } => return Ok(self.take_one(index, stamp)),
                    Claim::Closed => return Err(Failure::Closed),
                    Claim::WouldBlock { .. } if probe == Probe::Waiting => backoff.snooze(),
                    Claim::WouldBlock { .. } => break,
                }
            }
            if let Some(interrupt) = wait.interrupted() {
                return Err(Failure::Interrupted(interrupt));
            }
            self.park(Side::Receivers, wait);
        }
    }

    /// Moves up to `max` values into `out` without blocking, as few claims as possible.
    ///
    /// `out` grows before each claim, never after: once slots are claimed nothing may
    /// fail before they are emptied and freed, or they would stay claimed for good, and
    /// growing a `Vec` can panic.
    pub(crate) fn try_recv_many(&self, out: &mut Vec<T>, max: usize) -> Result<usize, Failure> {
        let mut taken = 0;
        while taken < max {
            // A claim takes at most `max - taken` slots, and never more than the ring has.
            out.reserve((max - taken).min(self.cap));
            match self.claim_recv(max - taken, Probe::Exact) {
                Claim::Got {
                    index,
                    stamp,
                    count,
                } => {
                    self.drain_into(index, stamp, count, out);
                    taken += count;
                }
                Claim::WouldBlock { .. } | Claim::Closed if taken > 0 => break,
                Claim::WouldBlock { .. } => return Err(Failure::WouldBlock),
                Claim::Closed => return Err(Failure::Closed),
            }
        }
        Ok(taken)
    }

    /// Closes the channel: sends fail from now on, receives drain what is queued. Returns
    /// false if it was closed already.
    pub(crate) fn close(&self) -> bool {
        let tail = self.tail.fetch_or(self.mark_bit, Ordering::SeqCst);
        if tail & self.mark_bit != 0 {
            return false;
        }
        self.senders.close();
        self.receivers.close();
        true
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.mark_bit != 0
    }

    /// Drops every queued value: the last receiver is gone and the channel closed, so
    /// nothing would ever take them (std's channel drops them then, rather than when the
    /// last sender goes). Values a sender claimed room for before the close are waited
    /// for. If a value's drop panics, the rest are still dropped, then the panic goes on.
    pub(crate) fn discard_all(&self) {
        debug_assert!(self.is_closed());
        let tail = self.tail.load(Ordering::SeqCst) & !self.mark_bit;
        let mut rest = Discard { array: self, tail };
        while rest.drop_next() {}
    }

    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        tail & !self.mark_bit == head
    }

    pub(crate) fn is_full(&self) -> bool {
        let tail = self.tail.load(Ordering::SeqCst);
        let head = self.head.load(Ordering::SeqCst);
        head.wrapping_add(self.one_lap) == tail & !self.mark_bit
    }

    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            // A consistent pair: `tail` did not move while `head` was read.
            if self.tail.load(Ordering::SeqCst) == tail {
                return self.len_between(head, tail);
            }
        }
    }

    fn len_between(&self, head: usize, tail: usize) -> usize {
        let hix = head & (self.mark_bit - 1);
        let tix = tail & (self.mark_bit - 1);
        if hix < tix {
            tix - hix
        } else if hix > tix {
            self.cap - hix + tix
        } else if tail & !self.mark_bit == head {
            0
        } else {
            self.cap
        }
    }

    /// A select's try on `side`: claims one slot, exactly as `try_send` or `try_recv`
    /// would, for the select's operation to fill or empty when it completes. `None` if
    /// the ring is full (empty) and open.
    pub(crate) fn claim(&self, side: Side) -> Option<Ready> {
        let claim = match side {
            Side::Senders => self.claim_send(1, Probe::Exact),
            Side::Receivers => self.claim_recv(1, Probe::Exact),
        };
        match claim {
            Claim::Got { index, stamp, .. } => Some(Ready::Slot(SlotClaim { index, stamp })),
            Claim::Closed => Some(Ready::Closed),
            Claim::WouldBlock { .. } => None,
        }
    }

    /// Fills the slot a select's send claimed.
    ///
    /// # Safety
    ///
    /// `claim` was made by [`claim`](Array::claim) on this ring for `Side::Senders`.
    pub(crate) unsafe fn write(&self, claim: SlotClaim, msg: T) {
        self.fill_one(claim.index, claim.stamp, msg);
    }

    /// Empties the slot a select's receive claimed.
    ///
    /// # Safety
    ///
    /// `claim` was made by [`claim`](Array::claim) on this ring for `Side::Receivers`.
    pub(crate) unsafe fn read(&self, claim: SlotClaim) -> T {
        self.take_one(claim.index, claim.stamp)
    }

    /// Gives up a select's claim that will not complete: a receive's value is dropped, a
    /// send's slot becomes a hole (see *Holes*), so neither leaves the ring wedged.
    ///
    /// # Safety
    ///
    /// `claim` was made by [`claim`](Array::claim) on this ring for `side`.
    pub(crate) unsafe fn abandon(&self, side: Side, claim: SlotClaim) {
        match side {
            // SAFETY: passed on to our caller.
            Side::Receivers => drop(unsafe { self.read(claim) }),
            Side::Senders => {
                self.buffer[claim.index]
                    .stamp
                    .store((claim.stamp + 1) | self.mark_bit, Ordering::Release);
                self.receivers.notify(1);
            }
        }
    }

    /// Both cursors: while they stay the same, whether a send or a receive could complete
    /// does not change (what a non-blocking select checks before it gives up).
    pub(crate) fn version(&self) -> [usize; 2] {
        [
            self.head.load(Ordering::SeqCst),
            self.tail.load(Ordering::SeqCst),
        ]
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }
}

// SAFETY: an `Array` moves values of `T` between threads, so it needs `T: Send`; its
// `UnsafeCell` slots are only touched by the one thread that claimed them (see `fill` and
// `drain_into`), so sharing the ring between threads is sound for any such `T`.
unsafe impl<T: Send> Send for Array<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Array<T> {}

impl<T> Drop for Array<T> {
    fn drop(&mut self) {
        // No other handle exists: every claimed slot has been filled or emptied, and the
        // values between head and tail are exactly the initialized ones.
        self.discard_all();
    }
}

/// The values [`Array::discard_all`] has still to drop: one at a time from `head` up to
/// `tail`, and, if one value's drop panics, the rest as the panic unwinds through this
/// guard's own drop — so none is leaked (as `Vec` does; a second panic aborts).
struct Discard<'a, T> {
    array: &'a Array<T>,
    /// The final `tail`, without the close bit.
    tail: usize,
}

impl<T> Discard<'_, T> {
    /// Drops the value at `head`; false once none is left.
    fn drop_next(&mut self) -> bool {
        let array = self.array;
        let head = array.head.load(Ordering::Relaxed);
        if head == self.tail {
            return false;
        }
        let index = head & (array.mark_bit - 1);
        let slot = &array.buffer[index];
        // A sender that claimed the slot before the close may still be writing it.
        let backoff = Backoff::new();
        let stamp = loop {
            match slot.stamp.load(Ordering::Acquire) {
                stamp if stamp & !array.mark_bit == head + 1 => break stamp,
                _ => backoff.snooze(),
            }
        };
        if stamp & array.mark_bit != 0 {
            // A hole: no value to drop.
            slot.stamp
                .store(head.wrapping_add(array.one_lap), Ordering::Release);
            array.head.store(array.advance(head, 1), Ordering::Release);
            return true;
        }
        // SAFETY: the channel is closed and its last receiver gone (or the ring is being
        // dropped), so this thread is the only reader; the stamp says the slot holds an
        // initialized value, moved out exactly once here — `head` moves past it before
        // the value is dropped, so a panicking drop cannot make it be dropped again.
        // Covered by the loom models `dropping_a_full_channel_drops_each_value_once` and
        // `the_last_receiver_s_drop_discards_the_queue_while_a_sender_writes`.
        let msg = slot.msg.with(|p| unsafe { (*p).assume_init_read() });
        slot.stamp
            .store(head.wrapping_add(array.one_lap), Ordering::Release);
        array.head.store(array.advance(head, 1), Ordering::Release);
        drop(msg);
        true
    }
}

impl<T> Drop for Discard<'_, T> {
    fn drop(&mut self) {
        while self.drop_next() {}
    }
}

impl<T> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("len", &self.len())
            .field("cap", &self.cap)
            .field("closed", &self.is_closed())
            .finish()
    }
}
