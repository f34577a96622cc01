//! The unbounded flavor: a linked list of fixed-size blocks of slots, for
//! [`unbounded`](crate::unbounded).
//!
//! The design is crossbeam-channel's list flavor: producers and consumers each claim
//! positions with one compare-and-swap on their own cursor, `tail` or `head`, and never
//! take a lock. Senders never wait: when a block fills, the sender that claimed its last
//! slot links a new one. Receivers wait for values through [`SyncWaker`], as on the ring.
//! Blocks are released as soon as every one of their values has been read (a few kept
//! for reuse, see *Recycling*), so the memory held follows the queue's length. On top of crossbeam's design: batch claims (up to
//! the rest of a block per compare-and-swap, for `send_many` and `recv_many`), and a
//! drop of the queue, when the last receiver goes, that survives a panicking `Drop`.
//!
//! ## Positions
//!
//! Each block has [`BLOCK_CAP`] slots and takes [`LAP`]` = BLOCK_CAP + 1` consecutive
//! positions: one per slot, then one *boundary* position that names no slot. A cursor
//! (`head` or `tail`) is `position << SHIFT | flag`:
//!
//! * `tail`'s flag is the close bit: once set, no position is ever claimed again.
//! * `head`'s flag is a hint: the tail is known to be in a later block, so every slot of
//!   the head's block has been claimed by a sender, and a receiver need not look at the
//!   tail before it claims one.
//!
//! A cursor at a boundary means that the thread that claimed the block's last slot is
//! moving the cursor into the next block: a sender installing the block it allocated, a
//! receiver waiting for that block's pointer. Others wait (briefly) for it to finish.
//! Each cursor comes with a pointer to the block its position lies in (`Position`); the
//! pointer moves before the position does, so a thread that reads the position and then
//! the pointer and claims that very position by compare-and-swap has the right block.
//!
//! ## Slots and blocks
//!
//! A slot's `state` is [`WRITE`] once the sender has written the value: the sender
//! stores it, no one else writes it, so a send is one compare-and-swap (on `tail`) and
//! one store. A block counts the values moved out of it (`Block::reads`): a receiver adds
//! the slots it has read, all of a claim's at once, and the one whose addition completes
//! the count frees the block (`List::destroy`). So exactly one thread frees each block,
//! after every value in it was read. (crossbeam instead marks each slot read and hands
//! the free on through a `DESTROY` bit; that needs a read-modify-write on every slot by
//! its sender as well, which measured as half of a send's time.) Under loom a free
//! counts as a write of every value cell of the block (`Block::free`), so the models
//! report a free that does not happen after some access.
//!
//! ## Recycling
//!
//! A freed block is not given back to the allocator at once: the receiver that frees it
//! resets it (`Block::reset`: slots empty, count zero, no next) and keeps it in one of
//! the list's [`SPARES`] places, where the next sender that links a block takes it
//! (`List::new_block`); only if every place is taken is it freed. Whenever receivers
//! keep up with senders, or catch up after a burst, blocks are reused this way. The
//! allocator's cost was the point: a block allocated by the producer and freed by the
//! consumer is a cross-thread free, which in glibc's malloc takes the producer's arena
//! lock that the producer's next allocation needs too (both threads were seen sleeping
//! on that lock in futex calls), and a heap that grows and shrinks by a block at a time
//! faults and trims pages. Each place is taken by a swap and filled by a
//! compare-and-swap from null, so a block has one owner at a time and there is no ABA;
//! the fill releases and the take acquires, so whatever the block's last use did happens
//! before its reset, which happens before its next use. A reset counts under loom as a
//! write of every value cell, as a free does, so the models check both edges.
//!
//! ## Wrap-around
//!
//! Positions count modulo `2^(usize::BITS - 1)`. As [`LAP`] is a power of two it
//! divides that, so a block never straddles the wrap and the arithmetic below, done
//! with wrapping operations, stays right on 32-bit targets, where a long-lived channel
//! can wrap. (Under loom blocks are tiny and `LAP` is 3; no model gets near a wrap.)

use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};
use std::alloc::{self, Layout};
use std::collections::VecDeque;

use crossbeam_utils::CachePadded;
use patterns_core::Backoff;

use crate::context::{Context, Operation, Selected, Side, Spin};
use crate::sync::atomic::{self, AtomicPtr, AtomicUsize, Ordering};
use crate::sync::UnsafeCell;
use crate::wait::{Failure, Wait};
use crate::waker::SyncWaker;

/// Slots per block: with the block's `next` pointer, 32 words for word-sized values.
#[cfg(not(loom))]
const BLOCK_CAP: usize = 31;
/// Under loom, two slots: every model with three values crosses a block boundary, and two
/// receivers can each read one slot of a block and race to complete its count.
#[cfg(loom)]
const BLOCK_CAP: usize = 2;

/// Freed blocks a list keeps for reuse (see *Recycling*): 4 KiB of them for `u64`s.
#[cfg(not(loom))]
const SPARES: usize = 8;
/// Under loom, two: enough for a keep to find a place taken and try the next.
#[cfg(loom)]
const SPARES: usize = 2;

/// Positions per block: its slots and the boundary.
const LAP: usize = BLOCK_CAP + 1;

// See *Wrap-around*: loom models never wrap.
const _: () = assert!(cfg!(loom) || LAP.is_power_of_two());

/// A cursor's low bit is its flag (see *Positions*); the position sits above it.
const SHIFT: usize = 1;
/// `tail`'s close bit, `head`'s "the tail is in a later block" hint.
const FLAG: usize = 1;
/// One position, in cursor units.
const ONE: usize = 1 << SHIFT;
/// The mask of a position (after `>> SHIFT`): positions wrap at this many bits.
const POSITION_MASK: usize = usize::MAX >> SHIFT;

/// A slot's value has been written.
const WRITE: usize = 1;

/// The position of a cursor.
#[inline]
fn position(cursor: usize) -> usize {
    cursor >> SHIFT
}

/// The slot index of a cursor within its block; [`BLOCK_CAP`] at a boundary.
#[inline]
fn offset(cursor: usize) -> usize {
    position(cursor) % LAP
}

/// Whether two cursors lie in the same block.
#[inline]
fn same_block(a: usize, b: usize) -> bool {
    position(a) / LAP == position(b) / LAP
}

/// How many slots lie from cursor `head` up to cursor `tail`, which is not behind it:
/// the positions between them less the boundaries among those.
#[inline]
fn slots_between(head: usize, tail: usize) -> usize {
    let distance = position(tail).wrapping_sub(position(head)) & POSITION_MASK;
    distance - (offset(head) + distance) / LAP
}

struct Slot<T> {
    /// Initialized from the time `WRITE` is set until the receiver moves it out.
    msg: UnsafeCell<MaybeUninit<T>>,
    /// 0, or `WRITE`, see the module docs.
    state: AtomicUsize,
}

impl<T> Slot<T> {
    /// Waits until the sender that claimed the slot has written its value. Senders write
    /// right after they claim, never blocking in between, so this wait is short.
    fn wait_write(&self) {
        let backoff = Backoff::new();
        while self.state.load(Ordering::Acquire) & WRITE == 0 {
            backoff.snooze();
        }
    }
}

struct Block<T> {
    /// The next block, set by the sender that claimed this block's last slot.
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
    /// How many slots' values receivers have moved out; after the slots, away from
    /// `next`, which the sender writes.
    reads: AtomicUsize,
}

impl<T> Block<T> {
    /// A new block with empty slots, built in place on the heap: a block of large values
    /// never passes through the stack.
    fn alloc() -> NonNull<Block<T>> {
        let layout = Layout::new::<Block<T>>();
        // SAFETY: the layout is not zero-sized (a block holds an `AtomicPtr`).
        let raw = unsafe { alloc::alloc(layout) }.cast::<Block<T>>();
        let Some(block) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `raw` is a fresh allocation with the layout of a `Block<T>`; each field
        // is written once, in place, through raw pointers (no reference to uninitialized
        // memory is made), so the block is fully initialized when this returns.
        unsafe {
            ptr::addr_of_mut!((*raw).next).write(AtomicPtr::new(ptr::null_mut()));
            ptr::addr_of_mut!((*raw).reads).write(AtomicUsize::new(0));
            let slots = ptr::addr_of_mut!((*raw).slots).cast::<Slot<T>>();
            for i in 0..BLOCK_CAP {
                slots.add(i).write(Slot {
                    msg: UnsafeCell::new(MaybeUninit::uninit()),
                    state: AtomicUsize::new(0),
                });
            }
        }
        #[cfg(test)]
        tests::live_blocks(1);
        block
    }

    /// Frees a block; its slots' values, if any, are not dropped.
    ///
    /// # Safety
    ///
    /// `block` came from [`Block::alloc`], is not freed yet, and no thread touches it
    /// after this (nor is touching it now).
    unsafe fn free(block: NonNull<Block<T>>) {
        #[cfg(test)]
        tests::live_blocks(-1);
        // Under loom, freeing counts as a write of every value cell, as a race detector
        // treats a deallocation: loom then reports any access to a value that the free
        // does not happen after, which is what a use after free would be. This is how
        // the models check that the receiver that completes a block's count frees it
        // after every other receiver's read (`List::release`).
        #[cfg(loom)]
        {
            // SAFETY: not freed yet (the caller's contract); nothing is written.
            let slots = unsafe { &(*block.as_ptr()).slots };
            for slot in slots {
                slot.msg.with_mut(|_| ());
            }
        }
        // SAFETY: `alloc` allocated it with the global allocator and the layout of a
        // `Block<T>`, which is what a `Box<Block<T>>` frees; the caller promises it is
        // the last use.
        drop(unsafe { Box::from_raw(block.as_ptr()) });
    }

    /// Waits until the next block is linked, and returns it.
    fn wait_next(&self) -> NonNull<Block<T>> {
        let backoff = Backoff::new();
        loop {
            if let Some(next) = NonNull::new(self.next.load(Ordering::Acquire)) {
                return next;
            }
            backoff.snooze();
        }
    }

    /// Makes a block whose values have all been read like a new one: every slot empty,
    /// no next block.
    ///
    /// # Safety
    ///
    /// As [`Block::free`]: no thread touches the block now or after this, until it is
    /// handed on (through [`List::spare`], which orders this before any later use).
    unsafe fn reset(block: NonNull<Block<T>>) {
        // SAFETY: live and, by the caller's contract, this thread's alone.
        let block = unsafe { block.as_ref() };
        // Relaxed: the spare's release publishes these stores with the block.
        block.next.store(ptr::null_mut(), Ordering::Relaxed);
        block.reads.store(0, Ordering::Relaxed);
        for slot in &block.slots {
            // As in `free`: under loom a reset counts as a write of every value cell, so
            // the models report a reset that some access of the block's last use does
            // not happen before, and a later write that the reset does not happen
            // before. Nothing is written (the value cells hold no value).
            #[cfg(loom)]
            slot.msg.with_mut(|_| ());
            slot.state.store(0, Ordering::Relaxed);
        }
    }
}

/// A cursor and the block its position lies in.
struct Position<T> {
    /// `position << SHIFT | flag`, see the module docs.
    index: AtomicUsize,
    /// The block of `index`'s position; moves to the next block before `index` does.
    block: AtomicPtr<Block<T>>,
}

/// What a claim on positions found.
enum Claim<T> {
    /// `count` consecutive slots of `block`, from slot `offset`.
    Got {
        block: NonNull<Block<T>>,
        offset: usize,
        count: usize,
    },
    /// Nothing to receive, and not closed.
    Empty,
    /// Closed: for senders at once, for receivers once the queue is drained.
    Closed,
}

/// What a select's try found on an unbounded channel.
pub(crate) enum Ready {
    /// A receive's slot, claimed.
    Entry(EntryClaim),
    /// A send: an unbounded channel always has room, so nothing is claimed; the send
    /// happens when the select's operation completes.
    Room,
    Closed,
}

/// One slot a select's receive claimed, to empty when its operation completes (or to
/// empty and drop, see [`List::abandon`]). Neither `Copy` nor `Clone`: a claim is used
/// once.
#[derive(Debug)]
pub(crate) struct EntryClaim {
    /// The slot's `Block<T>`, type-erased (a token does not name `T`).
    block: NonNull<()>,
    offset: usize,
}

pub(crate) struct List<T> {
    /// Where receivers claim next.
    head: CachePadded<Position<T>>,
    /// Where senders claim next, with the close bit.
    tail: CachePadded<Position<T>>,
    /// Receivers parked on an empty queue. Senders never wait.
    receivers: SyncWaker,
    /// Blocks whose values have all been read, reset, for the next blocks senders link;
    /// null where there is none (see *Recycling*). On a line of their own: the receiver
    /// that frees a block and the sender that links one each touch it once per block.
    spares: CachePadded<[AtomicPtr<Block<T>>; SPARES]>,
    /// The list owns values of `T` (and drops them).
    _values: PhantomData<T>,
}

impl<T> List<T> {
    /// An empty list with its first block allocated.
    pub(crate) fn new() -> Self {
        let first = Block::<T>::alloc().as_ptr();
        let cursor = || {
            CachePadded::new(Position {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(first),
            })
        };
        List {
            head: cursor(),
            tail: cursor(),
            receivers: SyncWaker::new(),
            spares: CachePadded::new(core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut()))),
            _values: PhantomData,
        }
    }

    /// Claims up to `want >= 1` consecutive slots of the tail's block, linking the next
    /// block if the claim takes the last slot.
    #[inline(always)]
    fn claim_send(&self, want: usize) -> Claim<T> {
        debug_assert!(want >= 1);
        let backoff = Backoff::new();
        // Allocated before the compare-and-swap that takes a block's last slot, so that
        // the senders that wait at the boundary wait for two stores, not an allocation.
        let mut next_block = None;
        let mut tail = self.tail.index.load(Ordering::Acquire);
        let claim = loop {
            if tail & FLAG != 0 {
                break Claim::Closed;
            }
            let offset = offset(tail);
            if offset == BLOCK_CAP {
                // The sender of the last slot is linking the next block.
                backoff.snooze();
                tail = self.tail.index.load(Ordering::Acquire);
                continue;
            }
            let block = self.tail.block.load(Ordering::Acquire);
            let count = want.min(BLOCK_CAP - offset);
            let fills = offset + count == BLOCK_CAP;
            if fills && next_block.is_none() {
                next_block = Some(self.new_block());
            }
            match self.tail.index.compare_exchange_weak(
                tail,
                tail.wrapping_add(count << SHIFT),
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    let block = NonNull::new(block).expect("the tail always has a block");
                    if fills {
                        let next = next_block.take().expect("allocated above");
                        self.tail.block.store(next.as_ptr(), Ordering::Release);
                        self.tail.index.fetch_add(ONE, Ordering::Release);
                        // SAFETY: the block is live: its last slot is ours and not yet
                        // written, and a block is freed only after that slot is read.
                        unsafe { block.as_ref() }
                            .next
                            .store(next.as_ptr(), Ordering::Release);
                    }
                    break Claim::Got {
                        block,
                        offset,
                        count,
                    };
                }
                Err(current) => {
                    tail = current;
                    backoff.spin();
                }
            }
        };
        if let Some(unused) = next_block {
            // SAFETY: taken above and never published: no other thread has seen it.
            unsafe { self.keep_spare(unused) };
        }
        claim
    }

    /// A block for a sender to link: a spare if there is one, else a new allocation.
    fn new_block(&self) -> NonNull<Block<T>> {
        for spare in self.spares.iter() {
            // A plain load first, so that a sender writes only the place it takes from.
            if !spare.load(Ordering::Relaxed).is_null() {
                // Acquire: the reset of the block, and every access of its last use,
                // happen before this thread's writes into it (the release in
                // `keep_spare`). A swap, not a store: another sender may have taken it.
                if let Some(block) = NonNull::new(spare.swap(ptr::null_mut(), Ordering::Acquire)) {
                    return block;
                }
            }
        }
        Block::alloc()
    }

    /// Keeps an empty block as a spare, or frees it if every place is taken.
    ///
    /// # Safety
    ///
    /// `block` came from [`Block::alloc`], every slot is empty and its `next` null (it is
    /// new or reset), and no other thread touches it now or later.
    unsafe fn keep_spare(&self, block: NonNull<Block<T>>) {
        // Release: publishes the block's reset, and what happened before it, to the
        // sender that takes it (the acquire in `new_block`). Covered by the loom models
        // `unbounded_a_freed_block_is_reused` and
        // `unbounded_a_block_freed_by_racing_receivers_is_reused`.
        for spare in self.spares.iter() {
            if spare.load(Ordering::Relaxed).is_null()
                && spare
                    .compare_exchange(
                        ptr::null_mut(),
                        block.as_ptr(),
                        Ordering::Release,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                return;
            }
        }
        // SAFETY: no other thread has it (the caller's contract), and it did not become a
        // spare.
        unsafe { Block::free(block) };
    }

    /// Counts `count` more values of `block` moved out; the call that completes the count
    /// frees the block: resets it and keeps it as a spare, or gives it back to the
    /// allocator if every place is taken. The block must not be touched by this thread
    /// afterwards, unless it holds a later unread slot of it (which keeps it alive).
    ///
    /// # Safety
    ///
    /// This thread claimed `count` slots of `block` with [`claim_recv`](List::claim_recv),
    /// has moved their values out and counts them once, here.
    #[inline(always)]
    unsafe fn release(&self, block: NonNull<Block<T>>, count: usize) {
        // SAFETY: the block is live: its count cannot be complete before this addition.
        let reads = unsafe { &(*block.as_ptr()).reads };
        // AcqRel: this thread's reads of its slots happen before the free (release), and
        // so do every other receiver's, whose additions come before this one's (acquire,
        // through the release sequence of the additions).
        if reads.fetch_add(count, Ordering::AcqRel) + count == BLOCK_CAP {
            // SAFETY: every value has been moved out, by receivers whose accesses happen
            // before this (above), so no thread touches the block any more: no cursor
            // points into it (both have moved into later blocks) and no claim of a slot
            // in it is outstanding. This thread completed the count, so it alone frees
            // it. Covered by `unbounded_receivers_racing_to_free_a_block`.
            unsafe { self.destroy(block) };
        }
    }

    /// Resets a block whose values have all been read and keeps it as a spare, or frees
    /// it if every place is taken.
    ///
    /// # Safety
    ///
    /// No thread touches the block now or later, and this thread is its one destroyer.
    #[cold]
    #[inline(never)]
    unsafe fn destroy(&self, block: NonNull<Block<T>>) {
        // SAFETY: passed on from our caller; a reset block is empty, with no next.
        unsafe {
            Block::reset(block);
            self.keep_spare(block);
        }
    }

    /// Claims up to `want >= 1` consecutive slots of the head's block that senders have
    /// claimed, moving the head into the next block if the claim takes the last slot.
    #[inline(always)]
    fn claim_recv(&self, want: usize) -> Claim<T> {
        debug_assert!(want >= 1);
        let backoff = Backoff::new();
        let mut head = self.head.index.load(Ordering::Acquire);
        loop {
            let offset = offset(head);
            if offset == BLOCK_CAP {
                // The receiver of the last slot is moving the head to the next block.
                backoff.snooze();
                head = self.head.index.load(Ordering::Acquire);
                continue;
            }
            let block = self.head.block.load(Ordering::Acquire);
            let mut hint = head & FLAG;
            let ready = if hint != 0 {
                BLOCK_CAP - offset
            } else {
                // Whether a sender has claimed the slot: the fence orders this read of
                // `tail` after the read of `head` for every thread, as in the ring.
                atomic::fence(Ordering::SeqCst);
                let tail = self.tail.index.load(Ordering::Relaxed);
                if position(head) == position(tail) {
                    return if tail & FLAG != 0 {
                        Claim::Closed
                    } else {
                        Claim::Empty
                    };
                }
                if same_block(head, tail) {
                    position(tail).wrapping_sub(position(head)) & POSITION_MASK
                } else {
                    hint = FLAG;
                    BLOCK_CAP - offset
                }
            };
            let count = want.min(ready);
            let fills = offset + count == BLOCK_CAP;
            let mut new_head = (head & !FLAG).wrapping_add(count << SHIFT);
            if !fills {
                new_head |= hint;
            }
            match self.head.index.compare_exchange_weak(
                head,
                new_head,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // The block read after `head` is `head`'s: the block pointer moves
                    // only while the position is at a boundary, which `head` was not and,
                    // as the compare-and-swap just saw, still is not.
                    let block = NonNull::new(block).expect("the head always has a block");
                    if fills {
                        // SAFETY: the block is live: its last slot is ours and unread.
                        let next = unsafe { block.as_ref() }.wait_next();
                        let mut next_index = new_head.wrapping_add(ONE);
                        // SAFETY: `next` is live: none of its slots has been claimed by a
                        // receiver yet (the head is only now moving into it).
                        if !unsafe { next.as_ref() }
                            .next
                            .load(Ordering::Relaxed)
                            .is_null()
                        {
                            next_index |= FLAG;
                        }
                        self.head.block.store(next.as_ptr(), Ordering::Release);
                        self.head.index.store(next_index, Ordering::Release);
                    }
                    return Claim::Got {
                        block,
                        offset,
                        count,
                    };
                }
                Err(current) => {
                    head = current;
                    backoff.spin();
                }
            }
        }
    }

    /// Writes `msg` into a claimed slot and publishes it.
    ///
    /// # Safety
    ///
    /// This thread claimed slot `offset` of `block` with [`claim_send`](List::claim_send)
    /// and has not written it yet.
    #[inline(always)]
    unsafe fn write(block: NonNull<Block<T>>, offset: usize, msg: T) {
        // SAFETY: the block is live until this slot is read, which waits for the `WRITE`
        // below.
        let slot = unsafe { &(*block.as_ptr()).slots[offset] };
        // SAFETY: the claim made this thread the slot's only writer, the slot holds no
        // value, and no receiver reads it before `WRITE`. Covered by the loom models
        // `unbounded_send_racing_recv_across_a_block_boundary` and
        // `unbounded_batches_across_a_block_boundary`.
        slot.msg.with_mut(|p| unsafe { (*p).write(msg) });
        // A store: this thread is the only one that writes the slot's state until the
        // block is reset.
        slot.state.store(WRITE, Ordering::Release);
    }

    /// Moves the value out of a claimed slot, then counts it read (see
    /// [`release`](List::release)).
    ///
    /// # Safety
    ///
    /// This thread claimed slot `offset` of `block` with [`claim_recv`](List::claim_recv),
    /// and has not read it yet.
    #[inline(always)]
    unsafe fn take(&self, block: NonNull<Block<T>>, offset: usize) -> T {
        // SAFETY: passed on.
        let msg = unsafe { Self::move_out(block, offset) };
        // SAFETY: read just now, and this thread's claim, counted once.
        unsafe { self.release(block, 1) };
        msg
    }

    /// Moves the value out of a claimed slot, waiting for its sender to write it first.
    ///
    /// # Safety
    ///
    /// As [`take`](List::take); the slot is counted read afterwards, once.
    #[inline(always)]
    unsafe fn move_out(block: NonNull<Block<T>>, offset: usize) -> T {
        // SAFETY: the block is live until this slot is counted read: its count cannot
        // complete before.
        let slot = unsafe { &(*block.as_ptr()).slots[offset] };
        slot.wait_write();
        // SAFETY: `WRITE` (acquired) says the value is initialized; the claim made this
        // thread its only reader, so it is moved out exactly once. Covered by the loom
        // models `unbounded_send_racing_recv_across_a_block_boundary` and
        // `unbounded_receivers_racing_to_free_a_block`.
        slot.msg.with(|p| unsafe { (*p).assume_init_read() })
    }

    /// Fills claimed slots from the front of `values`, then wakes receivers.
    ///
    /// # Safety
    ///
    /// This thread claimed slots `offset..offset + count` of `block` with
    /// [`claim_send`](List::claim_send), and `values` holds at least `count` values.
    unsafe fn fill(
        &self,
        block: NonNull<Block<T>>,
        offset: usize,
        count: usize,
        values: &mut VecDeque<T>,
    ) {
        debug_assert!(values.len() >= count);
        for (i, msg) in values.drain(..count).enumerate() {
            // SAFETY: one of the claimed slots, each written once, in order: slot
            // `offset + i` keeps the block alive until it is written.
            unsafe { Self::write(block, offset + i, msg) };
        }
        self.receivers.notify(count);
    }

    /// Moves the values of claimed slots into `out`, which has room for them (nothing
    /// here can panic, so no claimed slot is left unread).
    ///
    /// # Safety
    ///
    /// This thread claimed slots `offset..offset + count` of `block` with
    /// [`claim_recv`](List::claim_recv).
    unsafe fn drain_into(
        &self,
        block: NonNull<Block<T>>,
        offset: usize,
        count: usize,
        out: &mut Vec<T>,
    ) {
        debug_assert!(out.capacity() - out.len() >= count);
        // SAFETY: each a claimed slot of this thread, read once.
        out.extend((0..count).map(|i| unsafe { Self::move_out(block, offset + i) }));
        // SAFETY: read just now, all of them this thread's claim, counted once.
        unsafe { self.release(block, count) };
    }

    /// Sends `msg`; never blocks. Fails only when closed, handing `msg` back.
    #[inline]
    pub(crate) fn send(&self, msg: T) -> Result<(), (T, Failure)> {
        match self.claim_send(1) {
            Claim::Got { block, offset, .. } => {
                // SAFETY: the slot was just claimed by this thread.
                unsafe { Self::write(block, offset, msg) };
                self.receivers.notify(1);
                Ok(())
            }
            Claim::Closed => Err((msg, Failure::Closed)),
            Claim::Empty => unreachable!("a send claim is never empty"),
        }
    }

    /// Sends every value of `values` in order, up to a block's worth per
    /// compare-and-swap; never blocks. On a close the unsent values stay in `values`.
    pub(crate) fn send_many(&self, values: &mut VecDeque<T>) -> Result<(), Failure> {
        while !values.is_empty() {
            match self.claim_send(values.len()) {
                Claim::Got {
                    block,
                    offset,
                    count,
                } => {
                    // SAFETY: `count <= values.len()` slots were just claimed.
                    unsafe { self.fill(block, offset, count, values) };
                }
                Claim::Closed => return Err(Failure::Closed),
                Claim::Empty => unreachable!("a send claim is never empty"),
            }
        }
        Ok(())
    }

    /// Takes the oldest value if one is queued. A sender that has claimed the slot but
    /// not written it yet is waited for, as it never blocks in between.
    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, Failure> {
        match self.claim_recv(1) {
            // SAFETY: the slot was just claimed by this thread.
            Claim::Got { block, offset, .. } => Ok(unsafe { self.take(block, offset) }),
            Claim::Empty => Err(Failure::WouldBlock),
            Claim::Closed => Err(Failure::Closed),
        }
    }

    pub(crate) fn recv(&self, wait: Wait<'_>) -> Result<T, Failure> {
        loop {
            let backoff = Backoff::brief();
            loop {
                match self.try_recv() {
                    Err(Failure::WouldBlock) if !backoff.is_completed() => backoff.snooze(),
                    Err(Failure::WouldBlock) => break,
                    done => return done,
                }
            }
            if let Some(interrupt) = wait.interrupted() {
                return Err(Failure::Interrupted(interrupt));
            }
            self.park(wait);
        }
    }

    /// Moves up to `max` queued values into `out` without blocking, a block's worth per
    /// claim at most.
    ///
    /// `out` grows before each claim, never after: once slots are claimed nothing may
    /// fail before they are read, or their values would be lost and their block never
    /// freed, and growing a `Vec` can panic.
    pub(crate) fn try_recv_many(&self, out: &mut Vec<T>, max: usize) -> Result<usize, Failure> {
        let mut taken = 0;
        while taken < max {
            out.reserve((max - taken).min(BLOCK_CAP));
            match self.claim_recv(max - taken) {
                Claim::Got {
                    block,
                    offset,
                    count,
                } => {
                    // SAFETY: just claimed, and `out` has room for `count` (a claim stays
                    // within one block).
                    unsafe { self.drain_into(block, offset, count, out) };
                    taken += count;
                }
                Claim::Empty | Claim::Closed if taken > 0 => break,
                Claim::Empty => return Err(Failure::WouldBlock),
                Claim::Closed => return Err(Failure::Closed),
            }
        }
        Ok(taken)
    }

    /// Parks a receiver until a value is sent, the channel closes, or `wait` runs out;
    /// the caller then retries.
    #[cold]
    #[inline(never)]
    fn park(&self, wait: Wait<'_>) {
        Context::with(|cx| {
            let oper = Operation::hook(cx);
            if !self.register(Side::Receivers, oper, cx) {
                return; // ready just now: retry at once
            }
            if cx.wait_until(wait, Spin::Never, None) != Selected::Operation(oper) {
                self.unregister(Side::Receivers, oper);
            }
        });
    }

    /// Registers a waiting operation on `side`, then re-checks the channel: if the
    /// operation could proceed now (or would fail closed), unregisters it again and
    /// returns false. A send can always proceed.
    ///
    /// ## Memory ordering
    ///
    /// As on the ring (see [`SyncWaker`]): the waiter's `SeqCst` registration comes
    /// before its `SeqCst` reads of `head` and `tail`, a sender's `SeqCst`
    /// compare-and-swap on `tail` before its read of the waker's flag, so either the
    /// waiter sees the claim or the sender sees the waiter.
    pub(crate) fn register(&self, side: Side, oper: Operation, cx: &Context) -> bool {
        if side == Side::Senders {
            return false;
        }
        self.receivers.register(oper, cx);
        let ready = self.is_closed() || !self.is_empty();
        if ready {
            self.receivers.unregister(oper);
        }
        !ready
    }

    /// Removes a registered operation that was not selected.
    pub(crate) fn unregister(&self, side: Side, oper: Operation) {
        if side == Side::Receivers {
            self.receivers.unregister(oper);
        }
    }

    /// Closes the channel: sends fail from now on, receives drain what is queued. Returns
    /// false if it was closed already.
    pub(crate) fn close(&self) -> bool {
        let tail = self.tail.index.fetch_or(FLAG, Ordering::SeqCst);
        if tail & FLAG != 0 {
            return false;
        }
        self.receivers.close();
        true
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tail.index.load(Ordering::SeqCst) & FLAG != 0
    }

    /// Drops every queued value and frees every block but the tail's: the last receiver
    /// is gone and the channel closed, so nothing would ever take them. Values that
    /// senders claimed slots for before the close are waited for. If a value's drop
    /// panics, the rest are still dropped, then the panic goes on.
    pub(crate) fn discard_all(&self) {
        debug_assert!(self.is_closed());
        // A sender that claimed a block's last slot before the close may still be moving
        // the tail past the boundary; after that the tail stays put.
        let backoff = Backoff::new();
        let tail = loop {
            let tail = self.tail.index.load(Ordering::Acquire);
            if offset(tail) != BLOCK_CAP {
                break tail & !FLAG;
            }
            backoff.snooze();
        };
        let mut rest = Discard { list: self, tail };
        while rest.drop_next() {}
    }

    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.index.load(Ordering::SeqCst);
        let tail = self.tail.index.load(Ordering::SeqCst);
        slots_between(head, tail) == 0
    }

    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.index.load(Ordering::SeqCst);
            let head = self.head.index.load(Ordering::SeqCst);
            // A consistent pair: `tail` did not move while `head` was read.
            if self.tail.index.load(Ordering::SeqCst) == tail {
                return slots_between(head, tail);
            }
        }
    }

    /// A select's try on `side`: claims one slot for a receive, exactly as `try_recv`
    /// would; a send is ready unless closed. `None` if the queue is empty and open.
    pub(crate) fn claim(&self, side: Side) -> Option<Ready> {
        match side {
            Side::Senders if self.is_closed() => Some(Ready::Closed),
            Side::Senders => Some(Ready::Room),
            Side::Receivers => match self.claim_recv(1) {
                Claim::Got { block, offset, .. } => Some(Ready::Entry(EntryClaim {
                    block: block.cast(),
                    offset,
                })),
                Claim::Closed => Some(Ready::Closed),
                Claim::Empty => None,
            },
        }
    }

    /// Empties the slot a select's receive claimed.
    ///
    /// # Safety
    ///
    /// `claim` was made by [`claim`](List::claim) on this list.
    pub(crate) unsafe fn read(&self, claim: EntryClaim) -> T {
        // SAFETY: `claim` erased this list's `Block<T>`: a slot this thread claimed and
        // has not read (the caller's contract; a claim is used once).
        unsafe { self.take(claim.block.cast(), claim.offset) }
    }

    /// Gives up a select's receive that will not complete: its value is dropped (it was
    /// taken off the queue), so the block can be freed.
    ///
    /// # Safety
    ///
    /// As [`read`](List::read).
    pub(crate) unsafe fn abandon(&self, claim: EntryClaim) {
        // SAFETY: passed on to our caller.
        drop(unsafe { self.read(claim) });
    }

    /// Both cursors: while they stay the same, whether a receive could complete does not
    /// change (what a non-blocking select checks before it gives up).
    pub(crate) fn version(&self) -> [usize; 2] {
        [
            self.head.index.load(Ordering::SeqCst),
            self.tail.index.load(Ordering::SeqCst),
        ]
    }
}

// SAFETY: a `List` moves values of `T` between threads, so it needs `T: Send`; each slot's
// `UnsafeCell` is touched only by the sender and then the receiver that claimed it, in
// that order (see `write` and `take`), and blocks are freed by exactly one thread, so
// sharing the list between threads is sound for any such `T`.
unsafe impl<T: Send> Send for List<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for List<T> {}

impl<T> Drop for List<T> {
    fn drop(&mut self) {
        /// Frees the head's block when dropped, even while a value's panicking drop
        /// unwinds out of `discard_all`.
        struct FreeLast<'a, T>(&'a List<T>);
        impl<T> Drop for FreeLast<'_, T> {
            fn drop(&mut self) {
                let block = self.0.head.block.load(Ordering::Relaxed);
                let block = NonNull::new(block).expect("the head always has a block");
                // SAFETY: no other handle exists and the queue is drained, so the head's
                // block is the tail's, the one live block, touched by no one else.
                unsafe { Block::free(block) };
                for spare in self.0.spares.iter() {
                    if let Some(spare) = NonNull::new(spare.load(Ordering::Relaxed)) {
                        // SAFETY: no other handle exists, so nobody takes or keeps a
                        // spare any more, and a spare is in no list.
                        unsafe { Block::free(spare) };
                    }
                }
            }
        }
        let _last = FreeLast(self);
        // No other handle exists: every claimed slot has been written or read, and the
        // values between head and tail are exactly the unread ones.
        self.discard_all();
    }
}

/// The values [`List::discard_all`] has still to drop: one at a time from `head` up to
/// `tail`, freeing each block it leaves; if one value's drop panics, the rest go as the
/// panic unwinds through this guard's own drop, so none is leaked (as `Vec` does; a
/// second panic aborts).
struct Discard<'a, T> {
    list: &'a List<T>,
    /// The final `tail`, without the close bit, not at a boundary.
    tail: usize,
}

impl<T> Discard<'_, T> {
    /// Drops the value at `head`; false once none is left.
    fn drop_next(&mut self) -> bool {
        let list = self.list;
        // The last receiver is gone (or the list is being dropped): this thread alone
        // moves `head` now, and every earlier receive is done.
        let head = list.head.index.load(Ordering::Relaxed) & !FLAG;
        if position(head) == position(self.tail) {
            return false;
        }
        let offset = offset(head);
        debug_assert!(offset < BLOCK_CAP, "a receive left the head at a boundary");
        let block = NonNull::new(list.head.block.load(Ordering::Relaxed))
            .expect("the head always has a block");
        // SAFETY: the head's block is live: its slots from `offset` on were never claimed
        // by a receiver, so nobody else frees it.
        let slot = unsafe { &(*block.as_ptr()).slots[offset] };
        // A sender that claimed the slot before the close may still be writing it.
        slot.wait_write();
        // SAFETY: `WRITE` says the value is initialized, and no receiver claimed it;
        // moved out exactly once here — `head` moves past it before the value is dropped,
        // so a panicking drop cannot make it be dropped again. Covered by the loom model
        // `unbounded_last_receiver_drop_racing_a_send`.
        let msg = slot.msg.with(|p| unsafe { (*p).assume_init_read() });
        if offset + 1 == BLOCK_CAP {
            // SAFETY: live, as above; its last slot was claimed, so the next is linked
            // (or about to be).
            let next = unsafe { block.as_ref() }.wait_next();
            list.head.block.store(next.as_ptr(), Ordering::Release);
            list.head
                .index
                .store(head.wrapping_add(2 * ONE), Ordering::Release);
            // SAFETY: every slot of the block has been read, by receivers that are all
            // done or just now by this thread, and no receiver frees the block: what
            // this thread drops is not counted, so its count never completes. This is
            // the last use.
            unsafe { Block::free(block) };
        } else {
            list.head
                .index
                .store(head.wrapping_add(ONE), Ordering::Release);
        }
        drop(msg);
        true
    }
}

impl<T> Drop for Discard<'_, T> {
    fn drop(&mut self) {
        while self.drop_next() {}
    }
}

impl<T> fmt::Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Blocks allocated and not freed by this thread, net.
        static LIVE_BLOCKS: Cell<isize> = const { Cell::new(0) };
    }

    /// Counts a block allocated (`1`) or freed (`-1`) on this thread.
    pub(super) fn live_blocks(change: isize) {
        LIVE_BLOCKS.with(|live| live.set(live.get() + change));
    }

    fn live() -> isize {
        LIVE_BLOCKS.with(Cell::get)
    }

    #[test]
    fn slots_between_skips_boundaries() {
        let at = |position: usize| position << SHIFT;
        assert_eq!(slots_between(at(0), at(0)), 0);
        assert_eq!(slots_between(at(0), at(BLOCK_CAP)), BLOCK_CAP); // the boundary
        assert_eq!(slots_between(at(0), at(LAP)), BLOCK_CAP);
        assert_eq!(slots_between(at(BLOCK_CAP), at(LAP)), 0);
        assert_eq!(slots_between(at(3), at(2 * LAP + 1)), 2 * BLOCK_CAP - 2);
        // Across the wrap of positions.
        let last_block = POSITION_MASK + 1 - LAP;
        assert_eq!(slots_between(at(last_block), at(1)), BLOCK_CAP + 1);
        assert_eq!(
            slots_between(at(last_block) | FLAG, at(0) | FLAG),
            BLOCK_CAP
        );
    }

    #[test]
    fn blocks_are_freed_as_they_drain() {
        let base = live();
        let list = List::<u64>::new();
        assert_eq!(live() - base, 1);
        let n = 10 * BLOCK_CAP as u64;
        for i in 0..n {
            list.send(i).unwrap();
        }
        assert_eq!(list.len(), n as usize);
        assert_eq!(live() - base, 11, "ten full blocks and the tail's");
        for i in 0..n {
            assert_eq!(list.try_recv(), Ok(i));
            // Each block is freed as its last value is read, but the first `SPARES`
            // freed, which are kept.
            let freed = (i as isize + 1) / BLOCK_CAP as isize;
            assert_eq!(live() - base, 11 - freed + freed.min(SPARES as isize));
        }
        let kept = 1 + SPARES as isize;
        assert_eq!(
            live() - base,
            kept,
            "only the tail's block and the spares are left"
        );
        // The next blocks linked are spares, and the blocks they leave become spares.
        for i in 0..2 * BLOCK_CAP as u64 {
            list.send(i).unwrap();
            assert_eq!(list.try_recv(), Ok(i));
            assert_eq!(live() - base, kept, "no block allocated or freed");
        }
        let mut values: VecDeque<u64> = (0..n).collect();
        list.send_many(&mut values).unwrap();
        let mut out = Vec::new();
        assert_eq!(list.try_recv_many(&mut out, usize::MAX), Ok(n as usize));
        assert_eq!(out, (0..n).collect::<Vec<_>>());
        assert_eq!(live() - base, kept);
        for i in 0..n {
            list.send(i).unwrap();
        }
        list.close();
        list.discard_all();
        assert_eq!(live() - base, 1, "the discard frees what it passes");
        drop(list);
        assert_eq!(live() - base, 0);
    }

    #[test]
    fn a_wrapping_position_keeps_the_queue_intact() {
        let list = List::<usize>::new();
        // Move both cursors to the last block before the wrap, keeping the block.
        let start = (POSITION_MASK + 1 - LAP) << SHIFT;
        list.head.index.store(start, Ordering::Relaxed);
        list.tail.index.store(start, Ordering::Relaxed);
        for i in 0..3 * BLOCK_CAP {
            list.send(i).unwrap();
        }
        assert_eq!(list.len(), 3 * BLOCK_CAP);
        assert!(position(list.tail.index.load(Ordering::Relaxed)) < LAP * 3);
        for i in 0..3 * BLOCK_CAP {
            assert_eq!(list.try_recv(), Ok(i));
        }
        assert!(list.is_empty());
        assert_eq!(list.try_recv(), Err(Failure::WouldBlock));
        list.close(); // as every handle's drop does before the list's
    }
}
